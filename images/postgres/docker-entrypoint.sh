#!/bin/sh
# Entrypoint of envctl's postgres:15, compatible with the official image's contract:
#   POSTGRES_PASSWORD          superuser password; required unless the method is trust
#   POSTGRES_USER              superuser name (default postgres)
#   POSTGRES_DB                database created on first start (default: the user)
#   POSTGRES_HOST_AUTH_METHOD  pg_hba method for TCP clients (default scram-sha-256)
#   POSTGRES_INITDB_ARGS       extra initdb arguments
#   PGDATA                     data directory (default /var/lib/postgresql/data)
# Not supported: *_FILE variables and /docker-entrypoint-initdb.d (envctl seeds itself).
set -eu

# `docker run postgres:15 -c fsync=off` means `postgres -c fsync=off`.
if [ "${1#-}" != "$1" ]; then
	set -- postgres "$@"
fi

if [ "$1" = postgres ] && [ "$(id -u)" = 0 ]; then
	# Bind mounts and fresh volumes may belong to root: hand them to postgres, then
	# re-run this script as postgres. setpriv execs (no parent process left behind).
	mkdir -p "$PGDATA" /run/postgresql
	find "$PGDATA" \! -user postgres -exec chown postgres:postgres '{}' +
	chmod 700 "$PGDATA"
	chown postgres:postgres /run/postgresql
	chmod 3777 /run/postgresql
	export HOME=/var/lib/postgresql
	exec setpriv --reuid=postgres --regid=postgres --init-groups "$0" "$@"
fi

init_cluster() {
	user=${POSTGRES_USER:-postgres}
	db=${POSTGRES_DB:-$user}
	method=${POSTGRES_HOST_AUTH_METHOD:-scram-sha-256}
	if [ -z "${POSTGRES_PASSWORD:-}" ] && [ "$method" != trust ]; then
		echo "error: POSTGRES_PASSWORD is not set; set it, or set" \
			"POSTGRES_HOST_AUTH_METHOD=trust to allow connections without one" >&2
		exit 1
	fi

	# The password goes through a file so that it never shows in `ps`.
	pwfile=$(mktemp)
	trap 'rm -f "$pwfile"' EXIT
	if [ -n "${POSTGRES_PASSWORD:-}" ]; then
		printf '%s\n' "$POSTGRES_PASSWORD" >"$pwfile"
		set -- --pwfile="$pwfile"
	else
		set --
	fi
	# --no-sync (and fsync=off below) save about half of the ~1 s start: a test
	# environment's new cluster need not survive a host crash in its first second.
	# shellcheck disable=SC2086  # POSTGRES_INITDB_ARGS is a word list on purpose
	initdb -D "$PGDATA" --username="$user" --auth-local=trust --auth-host="$method" \
		--no-sync "$@" ${POSTGRES_INITDB_ARGS:-} >/dev/null
	rm -f "$pwfile"
	trap - EXIT

	# Later settings win: listen on every interface, accept TCP clients from anywhere.
	printf "\nlisten_addresses = '*'\n" >>"$PGDATA/postgresql.conf"
	printf '\nhost all all all %s\n' "$method" >>"$PGDATA/pg_hba.conf"

	# Single-user mode runs as the bootstrap superuser ($user) with no server to start
	# and stop, so the database exists before the real server accepts its first client.
	if [ "$db" != postgres ]; then
		quoted=$(printf '%s' "$db" | sed 's/"/""/g')
		# Single-user mode reports an error but still exits 0: look for it.
		out=$(printf 'CREATE DATABASE "%s";\n' "$quoted" \
			| postgres --single -D "$PGDATA" -c fsync=off postgres 2>&1)
		if printf '%s' "$out" | grep -q 'ERROR:'; then
			printf 'error: could not create database %s:\n%s\n' "$db" "$out" >&2
			exit 1
		fi
	fi
	echo "envctl postgres: initialised $PGDATA (user $user, database $db, host auth $method)" >&2
}

if [ "$1" = postgres ] && [ ! -s "$PGDATA/PG_VERSION" ]; then
	init_cluster
fi

exec "$@"
