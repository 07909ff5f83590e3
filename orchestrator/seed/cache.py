"""Seed once, clone per run: the key under which a service's seeded data is kept.

Generating and loading a million rows takes seconds; copying the data directory they
ended up in takes a fraction of that. So the first environment of a data section keeps
its seeded data (the runtime decides how: the local runtime a base backup of the data
directory) and later ones start from a copy. The key covers everything that shapes the
data — the entries themselves (seed included), resolved row counts, the schema and
dump files' contents, the generator's version, numpy's — and nothing secret: passwords
are set per environment after the copy.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING

from orchestrator.blueprint.model import Engine
from orchestrator.engines.postgres import credentials
from orchestrator.seed import volumes

if TYPE_CHECKING:
    from orchestrator.blueprint.loader import LoadedBlueprint

# Bump when generated values change for the same spec (a generator fix, a new word list).
GENERATOR_VERSION = "2"
MANIFEST = "manifest.json"


def data_key(loaded: LoadedBlueprint, service: str) -> str | None:
    """The cache key of ``service``'s seeded data, or None when it is not cached."""
    entries = [(i, e) for i, e in enumerate(loaded.model.data) if e.service == service]
    if not entries or not all(e.cache for _, e in entries):
        return None
    if any(e.restore is not None and e.restore.transforms for _, e in entries):
        # A transformed sample's original values survive in dead tuples and index pages
        # until a VACUUM FULL: such data is never kept where other environments copy it.
        return None
    svc = loaded.model.services[service]
    if svc.engine is not Engine.postgres:
        return None  # Redis loads fast enough from its own protocol; see docs/seeding.md
    import numpy

    digest = hashlib.sha256()
    user, _, database = credentials(svc.env)
    numpy_version = ".".join(numpy.__version__.split(".")[:2])
    # What shapes the data dir besides the data: auth (pg_hba), initdb's options.
    password = bool(svc.env.get("POSTGRES_PASSWORD"))
    shaping = [svc.env.get(k, "") for k in ("POSTGRES_HOST_AUTH_METHOD", "POSTGRES_INITDB_ARGS")]
    head = [GENERATOR_VERSION, numpy_version, svc.image or "", user, database, password, *shaping]
    digest.update(json.dumps(head).encode())
    for index, entry in entries:
        digest.update(
            json.dumps(entry.model_dump(mode="json", by_alias=True), sort_keys=True).encode()
        )
        digest.update(json.dumps(volumes.rows(loaded, index), sort_keys=True).encode())
        for relative in (entry.schema_, entry.restore.file if entry.restore else None):
            if relative:
                digest.update(_file_digest(loaded.directory / relative).encode())
    return digest.hexdigest()[:24]


def _file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
