"""Seeded PostgreSQL data kept in Docker volumes, for the next environments to copy.

The first environment of a data key (``seed/cache.py``) starts its db with one more
volume, a staging one labelled like everything of the environment; once seeded,
``pg_basebackup`` runs inside the db container (replication is allowed from 127.0.0.1
there) into it, and a helper container copies it into a cache volume with a completion
marker. The cache volume carries ``envctl.seed-cache`` and not ``envctl.env``, so
teardown, ``gc`` and the watchdog leave it; the five newest per host are kept.

A later environment of the same key and image fills its fresh data volume from the
cache volume in a helper container, which also sets the new password in single-user
mode, so the db starts on seeded data without initdb and without generating anything.
Helpers carry the environment's labels: a killed envctl leaves nothing behind them.
"""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Mapping
from typing import Any

from orchestrator.engines.postgres import credentials
from orchestrator.runtime.docker import labels
from orchestrator.runtime.docker.client import errors

log = logging.getLogger(__name__)

SEED_CACHE = "envctl.seed-cache"  # volume label: the data key
SEED_IMAGE = "envctl.seed-image"  # volume label: the image ID the data was made with
SEED_MANIFEST = "envctl.seed-manifest"  # volume label: what the seed recorded (JSON)
DEFAULT_PGDATA = "/var/lib/postgresql/data"
STAGING_PATH = "/envctl-seed"
MARKER = ".envctl-complete"
KEEP = 5
TIMEOUT = 600

# Fill a fresh data volume from a kept one and set this environment's password. Inputs
# come through the environment, never the command line; single-user mode exits 0 even
# on an error, so its output is checked.
_RESTORE = r"""
set -eu
test -f /seed/.envctl-complete || exit 3
cp -a /seed/data/. /data/
rm -f /data/postmaster.pid
chown -R postgres:postgres /data
chmod 700 /data
if [ -n "${SEED_PASSWORD:-}" ]; then
  user=$(printf '%s' "$SEED_USER" | sed 's/"/""/g')
  pw=$(printf '%s' "$SEED_PASSWORD" | sed "s/'/''/g")
  out=$(printf 'ALTER ROLE "%s" PASSWORD '"'"'%s'"'"';\n\n' "$user" "$pw" \
    | setpriv --reuid=postgres --regid=postgres --init-groups \
      postgres --single -D /data -j -c fsync=off postgres 2>&1) || { echo "$out"; exit 4; }
  if printf '%s' "$out" | grep -q 'ERROR:'; then echo "$out" | grep ERROR: >&2; exit 4; fi
fi
"""

_BACKUP = (
    'pg_basebackup -h 127.0.0.1 -p 5432 -U "$SEED_USER" -D /envctl-seed/data '
    "-X stream --checkpoint=fast --no-sync -w"
    " && chown -R postgres:postgres /envctl-seed/data"
)

# Copy the backup into the cache volume and clear the first environment's password
# verifier in the copy (every later environment sets its own), then mark it complete.
_COPY = r"""
set -eu
cp -a /from/data /to/data
rm -f /to/data/postmaster.pid
user=$(printf '%s' "$SEED_USER" | sed 's/"/""/g')
out=$(printf 'ALTER ROLE "%s" PASSWORD NULL;\n\n' "$user" \
  | setpriv --reuid=postgres --regid=postgres --init-groups \
    postgres --single -D /to/data -j -c fsync=off postgres 2>&1) || { echo "$out"; exit 4; }
if printf '%s' "$out" | grep -q 'ERROR:'; then echo "$out" | grep ERROR: >&2; exit 4; fi
touch /to/.envctl-complete
"""


def kept_volume(client: Any, key: str, image_id: str) -> Any | None:
    """The newest cache volume of ``key`` made with ``image_id``, if any."""
    found = client.volumes.list(filters={"label": [f"{SEED_CACHE}={key}"]})
    matching = [v for v in found if (v.attrs.get("Labels") or {}).get(SEED_IMAGE) == image_id]
    matching.sort(key=lambda v: v.attrs.get("CreatedAt", ""), reverse=True)
    return matching[0] if matching else None


def staging_volume(client: Any, env_id: str, service: str, common: Mapping[str, str]) -> Any:
    return client.volumes.create(
        f"{labels.volume_name(env_id, service, 0)}-seed",
        labels={**common, labels.SERVICE: service, labels.ROLE: "seed-staging"},
    )


def restore(
    client: Any,
    image_id: str,
    kept: Any,
    data_volume: str,
    env: Mapping[str, str],
    env_id: str,
    common: Mapping[str, str],
) -> bool:
    """Fill ``data_volume`` from ``kept``; False when it is incomplete or the copy fails."""
    user, password, _ = credentials(env)
    try:
        exit_code, output = _helper(
            client,
            image_id,
            _RESTORE,
            {
                kept.name: {"bind": "/seed", "mode": "ro"},
                data_volume: {"bind": "/data", "mode": "rw"},
            },
            {"SEED_USER": user, "SEED_PASSWORD": password or ""},
            labels.container_name(env_id, f"seed-restore-{secrets.token_hex(3)}"),
            common,
        )
    except Exception as exc:  # the engine, a timeout: start from an empty volume instead
        log.warning("kept data %s not used: %s", kept.name, exc)
        return False
    if exit_code != 0:
        log.warning("kept data %s not used (exit %s): %s", kept.name, exit_code, output[-300:])
    return exit_code == 0


def manifest_of(volume: Any) -> dict[str, Any]:
    try:
        value = json.loads((volume.attrs.get("Labels") or {}).get(SEED_MANIFEST, "{}"))
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def keep(
    client: Any,
    container: Any,
    image_id: str,
    staging: str,
    key: str,
    env: Mapping[str, str],
    env_id: str,
    common: Mapping[str, str],
    manifest: Mapping[str, Any],
) -> bool:
    """Back up the running db into ``staging``, then copy that into a new cache volume;
    False (and no cache volume left) when any step fails: the cache is an optimisation,
    never a reason for a run to fail."""
    user, password, _ = credentials(env)
    made: list[Any] = []

    def fail(why: object) -> bool:
        log.warning("seeded data not kept: %s", why)
        for volume in made:
            _remove(volume)
        return False

    try:
        result = container.exec_run(
            ["sh", "-c", _BACKUP],
            environment={"SEED_USER": user, "PGPASSWORD": password or ""},
            user="root",
        )
        if result.exit_code != 0:
            return fail(f"pg_basebackup in {container.name}: {_text(result.output)}")
        kept = client.volumes.create(
            f"envctl-seed-{key[:16]}-{secrets.token_hex(3)}",
            labels={SEED_CACHE: key, SEED_IMAGE: image_id, SEED_MANIFEST: json.dumps(manifest)},
        )
        made.append(kept)
        exit_code, output = _helper(
            client,
            image_id,
            _COPY,
            {staging: {"bind": "/from", "mode": "ro"}, kept.name: {"bind": "/to", "mode": "rw"}},
            {"SEED_USER": user},
            labels.container_name(env_id, f"seed-keep-{secrets.token_hex(3)}"),
            common,
        )
    except Exception as exc:  # the engine, a timeout: no cache this time
        return fail(exc)
    if exit_code != 0:
        return fail(f"copying the seeded data: {output[-300:]}")
    prune(client)
    return True


def prune(client: Any, keep_newest: int = KEEP, per_key: int = 2) -> None:
    """Keep the ``keep_newest`` newest data keys (a busy CI host runs many blueprints),
    and of each at most ``per_key`` volumes (two runs that kept one at once)."""
    volumes = client.volumes.list(filters={"label": [SEED_CACHE]})
    volumes.sort(key=lambda v: v.attrs.get("CreatedAt", ""), reverse=True)
    seen: dict[str, int] = {}
    for volume in volumes:
        key = (volume.attrs.get("Labels") or {}).get(SEED_CACHE, "")
        seen[key] = seen.get(key, 0) + 1
        if len(seen) > keep_newest or seen[key] > per_key:
            _remove(volume)


def _helper(
    client: Any,
    image_id: str,
    script: str,
    volumes: Mapping[str, Mapping[str, str]],
    environment: Mapping[str, str],
    name: str,
    common: Mapping[str, str],
) -> tuple[int, str]:
    container = client.containers.create(
        image_id,
        entrypoint=["sh", "-c", script],
        command=[],
        name=name,
        user="root",
        environment=dict(environment),
        volumes={k: dict(v) for k, v in volumes.items()},
        network_disabled=True,
        labels={**common, labels.ROLE: "seed-helper"},
    )
    try:
        container.start()
        status = container.wait(timeout=TIMEOUT)
        output = _text(container.logs())
        return int(status.get("StatusCode", 1)), output
    finally:
        try:
            container.remove(force=True)
        except errors().APIError:
            pass


def _remove(volume: Any) -> None:
    try:
        volume.remove(force=True)
    except errors().APIError as exc:
        log.warning("could not remove volume %s: %s", volume.name, exc)


def _text(raw: Any) -> str:
    if isinstance(raw, bytes):
        return raw.decode("utf-8", errors="replace")
    return str(raw)
