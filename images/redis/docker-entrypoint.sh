#!/bin/sh
# Entrypoint of envctl's redis:7.0, after the official redis image's:
#   docker run redis:7.0                       -> redis-server --protected-mode no
#   docker run redis:7.0 --requirepass s3cret  -> redis-server --protected-mode no --requirepass s3cret
#   docker run redis:7.0 /etc/redis/x.conf     -> redis-server /etc/redis/x.conf [--protected-mode no]
#   docker run redis:7.0 sh -c 'exec redis-server --requirepass "$REDIS_PASSWORD"' -> as given
# Unlike the official image, every command (not only redis-server) runs as user redis,
# so that `sh -c 'exec redis-server ...'` does not run the server as root.
set -eu

# A first argument that is an option or a config file is an argument of redis-server.
if [ "${1#-}" != "$1" ] || [ "${1%.conf}" != "$1" ]; then
	set -- redis-server "$@"
fi

if [ "$(id -u)" = 0 ]; then
	find /data \! -user redis -exec chown redis:redis '{}' +
	exec setpriv --reuid=redis --regid=redis --init-groups "$0" "$@"
fi

# Keep the data files private unless the caller chose a umask.
if [ "$(umask)" = 0022 ]; then
	umask 0077
fi

# Without a config file redis-server only accepts clients on loopback (protected mode)
# unless a password is set; in a container every client is remote, so turn it off. It
# goes first so that an explicit `--protected-mode yes` later on the line still wins.
if [ "$1" = redis-server ]; then
	shift
	if [ $# -gt 0 ] && [ -f "$1" ]; then
		config=$1
		shift
		if grep -q '^protected-mode' "$config"; then
			set -- "$config" "$@"
		else
			set -- "$config" --protected-mode no "$@"
		fi
	else
		set -- --protected-mode no "$@"
	fi
	set -- redis-server "$@"
fi

exec "$@"
