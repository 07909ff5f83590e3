"""Capture a production profile from the real thing, reading statistics and never rows.

Everything comes from what the engines already keep about their data: PostgreSQL's
catalog (``reltuples``, relation sizes, ``pg_stats``), Redis's key names counted per
pattern, and latencies someone measured (a samples file or a Prometheus histogram export).
``pg_stats`` does hold some values (most common values, histogram bounds): those, and
nothing else, travel into the profile, exactly as the planner sees them.

Production is read through a read-only session (``SET SESSION CHARACTERISTICS AS
TRANSACTION READ ONLY``, so ``default_transaction_read_only`` is on for everything after
it), with statement and lock timeouts so a capture never queues behind a migration.
``analyze=True`` runs ``ANALYZE`` first: that writes statistics, so it is meant for test
environments only; a production capture trusts autovacuum's statistics and never asks.
The same reader measures live environments for the audit (``audit/live.py``).
"""

from __future__ import annotations

import json
import logging
import math
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

import yaml

from orchestrator.exceptions import RuntimeUnavailable, UsageError
from orchestrator.profile import (
    ColumnStats,
    EdgeLatency,
    EdgeProfile,
    ProductionProfile,
    ServiceProfile,
    TableProfile,
)

if TYPE_CHECKING:
    import psycopg
    import redis

    Conn = psycopg.Connection[tuple[Any, ...]]

log = logging.getLogger(__name__)

# A table never analyzed has reltuples -1: counting it exactly is cheap below this many
# 8 kB pages (800 MB); above, a count(*) would be a long sequential scan of production.
EXACT_COUNT_MAX_PAGES = 100_000
STATEMENT_TIMEOUT = "60s"
LOCK_TIMEOUT = "5s"  # behind an ALTER TABLE's lock we give up rather than wait
CONNECT_TIMEOUT = 10
QUANTILES = {"p50": 0.50, "p95": 0.95, "p99": 0.99}
SAMPLES_HINT = (
    "one latency per line (milliseconds, or with a unit: 120ms, 0.12s), a JSON list of "
    'milliseconds, or a Prometheus histogram export (name_bucket{le="0.1"} 42 lines)'
)


@dataclass(frozen=True)
class CaptureSources:
    """What to read for one profile: service name → URL per engine, the edges' samples
    files as ``(from, to, path)``, service name → image reference, and the PostgreSQL
    schemas whose tables count."""

    name: str
    postgres: Mapping[str, str] = field(default_factory=dict)
    redis: Mapping[str, str] = field(default_factory=dict)
    edges: Sequence[tuple[str, str, Path]] = ()
    images: Mapping[str, str] = field(default_factory=dict)
    schemas: Sequence[str] = ("public",)


def capture(sources: CaptureSources) -> ProductionProfile:
    """A whole profile from ``sources``; its ``source`` names what was read, masked."""
    both = sorted(set(sources.postgres) & set(sources.redis))
    if both:
        raise UsageError(
            f"service {both[0]!r} is given as both PostgreSQL and Redis",
            hint="one engine per service name",
        )
    services: dict[str, ServiceProfile] = {}
    for name, url in sources.postgres.items():
        services[name] = capture_postgres(url, schemas=sources.schemas)
    for name, url in sources.redis.items():
        services[name] = capture_redis(url)
    for name, reference in sources.images.items():
        services[name] = _with_image(services.get(name, ServiceProfile()), reference)
    edges = [
        EdgeProfile.model_validate({"from": a, "to": b, "latency": latency_from_samples(path)})
        for a, b, path in sources.edges
    ]
    read = [f"postgres {n}={_mask(u)}" for n, u in sources.postgres.items()]
    read += [f"redis {n}={_mask(u)}" for n, u in sources.redis.items()]
    read += [f"latency {a}->{b}={path}" for a, b, path in sources.edges]
    captured_at = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    metadata = {"name": sources.name, "captured_at": captured_at, "source": "; ".join(read)}
    return ProductionProfile.model_validate(
        {
            "apiVersion": "envctl/v1",
            "kind": "ProductionProfile",
            "metadata": metadata,
            "services": services,
            "edges": edges,
        }
    )


def _with_image(service: ServiceProfile, reference: str) -> ServiceProfile:
    """``repo:tag@sha256:…`` is an image and a digest; the audit compares both."""
    image, _, digest = reference.partition("@")
    return service.model_copy(update={"image": image, "digest": digest or None})


def dump(profile: ProductionProfile) -> str:
    """YAML that ``profile.load`` reads back equal: defaults left out, fields in the
    model's order, maps by name so that two captures diff line by line. Durations are
    written as seconds, the one form that reads back to the same float."""
    data = profile.model_dump(mode="json", by_alias=True, exclude_defaults=True)
    services = data.get("services", {})
    for service in services.values():
        for key in ("tables", "keyspaces"):
            if key in service:
                service[key] = dict(sorted(service[key].items()))
        for table in service.get("tables", {}).values():
            if "columns" in table:
                table["columns"] = dict(sorted(table["columns"].items()))
    if services:
        data["services"] = dict(sorted(services.items()))
    text: str = yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100)
    return text


class _Dumper(yaml.SafeDumper):
    """Block mappings, but lists of plain values on one line: a hundred histogram bounds
    should not take a hundred lines."""


def _represent_list(dumper: yaml.SafeDumper, data: list[Any]) -> yaml.Node:
    flow = all(not isinstance(item, list | dict) for item in data)
    return dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=flow)


_Dumper.add_representer(list, _represent_list)


# --- PostgreSQL ------------------------------------------------------------------------

_TABLES = """
SELECT n.nspname, c.relname, c.relkind = 'p',
       leaf.low, coalesce(leaf.reltuples, 0), coalesce(leaf.pages, 0), leaf.bytes
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
CROSS JOIN LATERAL (
    -- a table is its own leaf; a partitioned table's rows are in its leaf partitions
    SELECT min(r.reltuples) AS low, sum(greatest(r.reltuples, 0)::float8) AS reltuples,
           (sum(pg_relation_size(r.oid)) / current_setting('block_size')::int)::bigint AS pages,
           sum(pg_total_relation_size(r.oid))::bigint AS bytes
    FROM pg_class r
    WHERE (r.oid = c.oid AND c.relkind = 'r')
       OR r.oid IN (SELECT relid FROM pg_partition_tree(c.oid) WHERE isleaf)
) leaf
WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition AND n.nspname = ANY(%s)
  AND NOT EXISTS (  -- tables an extension owns (postgis' spatial_ref_sys …) are not ours
      SELECT 1 FROM pg_depend d
      WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
ORDER BY 1, 2
"""
# The text of anyarray read back as text[]: PostgreSQL's own array parser does the
# quoting ({a,"b c"}), whatever the column's type.
_STATS = """
SELECT schemaname, tablename, inherited, attname, null_frac, n_distinct,
       most_common_vals::text::text[], most_common_freqs,
       histogram_bounds::text::text[], avg_width
FROM pg_stats WHERE schemaname = ANY(%s)
ORDER BY 1, 2, 3, 4
"""
_EXTENSIONS = "SELECT extname FROM pg_extension WHERE extname <> 'plpgsql' ORDER BY 1"


def capture_postgres(
    url: str, *, schemas: Sequence[str] = ("public",), analyze: bool = False
) -> ServiceProfile:
    """Version, extensions and every user table of ``schemas``: rows, bytes, pg_stats.

    Tables of the ``public`` schema are named bare (``orders``), as blueprints name them;
    others with their schema (``billing.invoices``). ``analyze`` is for test
    environments only (see the module docstring).
    """
    import psycopg

    conn = _pg_connect(url)
    try:
        with conn:
            if analyze:
                _analyze(conn, list(schemas))
            return _read_postgres(conn, list(schemas))
    except psycopg.Error as exc:
        hint = None
        if isinstance(exc, psycopg.errors.InsufficientPrivilege):
            hint = "the capture reads pg_catalog and pg_stats (never a table): grant the role that"
        elif isinstance(exc, psycopg.errors.QueryCanceled | psycopg.errors.LockNotAvailable):
            hint = f"a catalog read exceeded its {STATEMENT_TIMEOUT}/{LOCK_TIMEOUT} limit; retry"
        raise RuntimeUnavailable(
            f"cannot read PostgreSQL at {_mask(url)}: {_reason(exc, url)}", hint=hint
        ) from exc


def _pg_connect(url: str) -> Conn:
    import psycopg
    from psycopg.conninfo import conninfo_to_dict

    try:
        conninfo_to_dict(url)
    except psycopg.ProgrammingError as exc:
        raise UsageError(
            f"not a PostgreSQL URL: {_mask(url)!r} ({_reason(exc, url)})",
            hint="postgresql://USER:PASSWORD@HOST:PORT/DATABASE",
        ) from None
    try:
        return psycopg.connect(
            url,
            autocommit=True,
            connect_timeout=CONNECT_TIMEOUT,
            application_name="envctl profile capture",
        )
    except psycopg.Error as exc:
        reason = _reason(exc, url)
        raise RuntimeUnavailable(
            f"cannot connect to PostgreSQL at {_mask(url)}: {reason}", hint=_pg_hint(reason)
        ) from exc


def _pg_hint(reason: str) -> str:
    if "password" in reason or "authentication" in reason:
        return "check the user and password the URL carries"
    if "does not exist" in reason:
        return "check the database (and user) name in the URL"
    return "is the server running, and reachable from here at that host and port?"


def _analyze(conn: Conn, schemas: list[str]) -> None:
    from psycopg import sql

    names = [sql.Identifier(row[0], row[1]) for row in conn.execute(_TABLES, [schemas])]
    if names:
        conn.execute(sql.SQL("ANALYZE {}").format(sql.SQL(", ").join(names)))


def _read_postgres(conn: Conn, schemas: list[str]) -> ServiceProfile:
    """Everything in one read-only, repeatable-read transaction: one consistent snapshot."""
    conn.execute(
        "SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY"
    )
    conn.execute(f"SET statement_timeout = '{STATEMENT_TIMEOUT}'")
    conn.execute(f"SET lock_timeout = '{LOCK_TIMEOUT}'")
    with conn.transaction():
        row = conn.execute("SHOW server_version").fetchone()
        version = str(row[0]).split()[0] if row else None
        extensions = [str(r[0]) for r in conn.execute(_EXTENSIONS)]
        stats = _column_stats(conn, schemas)
        tables: dict[str, TableProfile] = {}
        for schema, name, partitioned, low, reltuples, pages, size in conn.execute(
            _TABLES, [schemas]
        ).fetchall():
            rows = _row_count(conn, schema, name, low, reltuples, pages)
            key = name if schema == "public" else f"{schema}.{name}"
            columns = stats.get((schema, name, partitioned), {})
            tables[key] = TableProfile(rows=rows, bytes=int(size or 0), columns=columns)
    return ServiceProfile(version=version, extensions=extensions, tables=tables)


def _column_stats(
    conn: Conn, schemas: list[str]
) -> dict[tuple[str, str, bool], dict[str, ColumnStats]]:
    """pg_stats per (schema, table, inherited): a partitioned table's statistics are
    the inherited ones (over all its partitions), a plain table's its own."""
    out: dict[tuple[str, str, bool], dict[str, ColumnStats]] = {}
    for schema, table, inherited, column, *values in conn.execute(_STATS, [schemas]):
        null_frac, n_distinct, mcv, mcf, bounds, width = values
        out.setdefault((schema, table, inherited), {})[column] = ColumnStats(
            null_frac=null_frac,
            n_distinct=n_distinct,
            most_common_vals=mcv,
            most_common_freqs=mcf,
            histogram_bounds=bounds,
            avg_width=width,
        )
    return out


def _row_count(
    conn: Conn,
    schema: str,
    name: str,
    low: float | None,
    reltuples: float,
    pages: int,
) -> int:
    """reltuples, the planner's estimate; counted when it is unknown and counting is cheap."""
    if low is None or low >= 0:  # no partitions at all, or every leaf has an estimate
        return round(reltuples)
    if pages < EXACT_COUNT_MAX_PAGES:
        counted = _count(conn, schema, name)
        if counted is not None:
            return counted
    else:
        log.warning(
            "%s.%s was never analyzed and is too big to count (%d pages): rows recorded as 0; "
            "run ANALYZE on it, or wait for autovacuum, and capture again",
            schema,
            name,
            pages,
        )
    return 0


def _count(conn: Conn, schema: str, name: str) -> int | None:
    import psycopg
    from psycopg import sql

    query = sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(schema, name))
    try:
        with conn.transaction():  # a savepoint: a refused count leaves the snapshot usable
            row = conn.execute(query).fetchone()
    except (psycopg.errors.InsufficientPrivilege, psycopg.errors.QueryCanceled) as exc:
        reason = str(exc).strip()
        log.warning("%s.%s was never analyzed and cannot be counted (%s)", schema, name, reason)
        return None
    return int(row[0]) if row else None


# --- Redis -------------------------------------------------------------------------------


def capture_redis(url: str, *, sample: int = 10_000) -> ServiceProfile:
    """Version and keys per pattern in the URL's database: a pattern is a key with each
    run of digits as ``{id}`` (``session:123`` → ``session:{id}``). Exact when the
    database holds at most ``sample`` keys; beyond, a SCAN of ``sample`` keys (SCAN walks
    the hash table, so a sample unbiased by name) scaled to DBSIZE."""
    import redis

    if sample < 1:
        raise UsageError(f"sample must be at least 1, got {sample!r}")
    client = _redis_connect(url)
    try:
        info = client.info("server")
        total = int(client.dbsize())
        limit = None if total <= sample else sample
        counts = Counter(_pattern(key) for key in _scan(client, limit))
    except redis.RedisError as exc:
        raise RuntimeUnavailable(
            f"cannot read Redis at {_mask(url)}: {_reason(exc, url)}",
            hint="the capture needs INFO, DBSIZE and SCAN",
        ) from exc
    finally:
        client.close()
    keyspaces = dict(counts) if limit is None else _scale(counts, total)
    return ServiceProfile(
        version=str(info.get("redis_version") or "") or None,
        keyspaces=dict(sorted(keyspaces.items())),
    )


def _redis_connect(url: str) -> redis.Redis:
    import redis

    try:
        client = redis.Redis.from_url(
            url, socket_connect_timeout=CONNECT_TIMEOUT, socket_timeout=60
        )
    except ValueError as exc:
        raise UsageError(
            f"not a Redis URL: {_mask(url)!r} ({_reason(exc, url)})",
            hint="redis://:PASSWORD@HOST:PORT/DB",
        ) from None
    try:
        client.ping()
    except redis.AuthenticationError as exc:
        client.close()
        reason = f"refused the credentials ({_reason(exc, url)})"
        if not _secrets(url):
            reason = "asks for a password and the URL has none"
        raise RuntimeUnavailable(
            f"Redis at {_mask(url)} {reason}", hint="check the password the URL carries"
        ) from exc
    except (redis.RedisError, OSError) as exc:
        client.close()
        raise RuntimeUnavailable(
            f"cannot connect to Redis at {_mask(url)}: {_reason(exc, url)}",
            hint="is the server running, and reachable from here at that host and port?",
        ) from exc
    return client


def _scan(client: redis.Redis, limit: int | None) -> set[bytes]:
    """Distinct keys (SCAN may return a key twice while the table rehashes)."""
    seen: set[bytes] = set()
    for key in client.scan_iter(count=1000):
        seen.add(key)
        if limit is not None and len(seen) >= limit:
            break
    return seen


def _pattern(key: bytes) -> str:
    return re.sub(r"[0-9]+", "{id}", key.decode("utf-8", "backslashreplace"))


def _scale(counts: Mapping[str, int], total: int) -> dict[str, int]:
    """Each pattern's share of the sample times ``total``, rounded so that the counts
    still add up to ``total`` (largest remainders get the leftover keys)."""
    sampled = sum(counts.values())
    if not sampled:
        return {}
    exact = {p: n * total / sampled for p, n in counts.items()}
    out = {p: math.floor(v) for p, v in exact.items()}
    leftover = total - sum(out.values())
    for p in sorted(exact, key=lambda p: (out[p] - exact[p], p))[:leftover]:
        out[p] += 1
    return out


# --- Latency samples --------------------------------------------------------------------

_NUMBER = r"[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?"
_SAMPLE = re.compile(rf"^({_NUMBER})\s*(us|µs|ms|s)?$")
_UNITS = {"us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, None: 1e-3}
_BUCKET = re.compile(
    r'^(?P<name>[A-Za-z_:][A-Za-z0-9_:]*)_bucket\{(?P<labels>(?:[^}"]|"(?:[^"\\]|\\.)*")*)\}'
    r"\s+(?P<value>\S+)(?:\s+-?[0-9]+)?$"
)
_LE = re.compile(r'(?:^|,)\s*le\s*=\s*"([^"]*)"')
_HAS_BUCKETS = re.compile(r"^\s*[A-Za-z_:][A-Za-z0-9_:]*_bucket\{", re.MULTILINE)


def latency_from_samples(path: Path) -> EdgeLatency:
    """p50/p95/p99 in seconds from measured latencies: samples one per line or as a JSON
    list (interpolated between closest ranks), or a Prometheus histogram export
    (interpolated within buckets, as PromQL's ``histogram_quantile`` does)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise UsageError(
            f"cannot read latency samples {path}: {reason}", hint=SAMPLES_HINT
        ) from None
    if text.lstrip().startswith("["):
        quantiles = _sample_quantiles(_json_samples(text, path), path)
    elif _HAS_BUCKETS.search(text):
        quantiles = _histogram_quantiles(text, path)
    else:
        quantiles = _sample_quantiles(_line_samples(text, path), path)
    return EdgeLatency(**{k: round(v, 6) for k, v in quantiles.items()})


def _bad(path: Path, line: int, message: str) -> UsageError:
    return UsageError(f"{path}:{line}: {message}", hint=SAMPLES_HINT)


def _seconds(value: object, path: Path, line: int) -> float:
    """One sample: a number of milliseconds, or text with a unit."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value) * 1e-3
    else:
        match = _SAMPLE.match(value.strip()) if isinstance(value, str) else None
        if not match:
            raise _bad(path, line, f"{value!r} is not a latency")
        seconds = float(match.group(1)) * _UNITS[match.group(2)]
    if not math.isfinite(seconds) or seconds < 0:
        raise _bad(path, line, f"{value!r} is not a latency")
    return seconds


def _line_samples(text: str, path: Path) -> list[float]:
    out = []
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            out.append(_seconds(stripped, path, number))
    return out


def _json_samples(text: str, path: Path) -> list[float]:
    """The list item by item, rather than ``json.loads``, so that a bad item is reported
    at its own line."""
    decoder = json.JSONDecoder()
    at = _skip_space(text, text.index("[") + 1)
    out: list[float] = []
    while text[at : at + 1] != "]":
        if out:
            if text[at : at + 1] != ",":
                raise _bad(path, _line_of(text, at), "invalid JSON: expected ',' or ']'")
            at = _skip_space(text, at + 1)
        try:
            value, end = decoder.raw_decode(text, at)
        except json.JSONDecodeError as exc:
            raise _bad(path, exc.lineno, f"invalid JSON: {exc.msg}") from None
        out.append(_seconds(value, path, _line_of(text, at)))
        at = _skip_space(text, end)
    if text[at + 1 :].strip():
        raise _bad(path, _line_of(text, at + 1), "text after the JSON list")
    return out


def _line_of(text: str, at: int) -> int:
    return text.count("\n", 0, at) + 1


def _skip_space(text: str, at: int) -> int:
    while at < len(text) and text[at].isspace():
        at += 1
    return at


def _sample_quantiles(samples: list[float], path: Path) -> dict[str, float]:
    """Linear interpolation between closest ranks (numpy's default, R's type 7)."""
    if not samples:
        raise _bad(path, 1, "no latency samples")
    values = sorted(samples)
    out = {}
    for name, q in QUANTILES.items():
        h = (len(values) - 1) * q
        low = math.floor(h)
        high = min(low + 1, len(values) - 1)
        out[name] = values[low] + (h - low) * (values[high] - values[low])
    return out


def _histogram_quantiles(text: str, path: Path) -> dict[str, float]:
    """PromQL's ``histogram_quantile`` over ``sum by (le)`` of every series in the file."""
    buckets = _buckets(text, path)
    total = buckets[-1][1]
    if not math.isinf(buckets[-1][0]):
        raise _bad(path, buckets[-1][2], 'no le="+Inf" bucket: the total count is unknown')
    if total <= 0 or len(buckets) < 2:
        raise _bad(path, buckets[-1][2], "the histogram has no observations")
    return {name: _bucket_quantile(q, buckets) for name, q in QUANTILES.items()}


def _bucket_quantile(q: float, buckets: list[tuple[float, float, int]]) -> float:
    rank = q * buckets[-1][1]
    b = next(i for i, (_, count, _) in enumerate(buckets) if count >= rank)
    if b == len(buckets) - 1:  # in the +Inf bucket: the highest finite bound, as PromQL
        return buckets[-2][0]
    if b == 0 and buckets[0][0] <= 0:
        return buckets[0][0]
    start, below = (0.0, 0.0) if b == 0 else (buckets[b - 1][0], buckets[b - 1][1])
    end, count = buckets[b][0], buckets[b][1] - below
    return start + (end - start) * ((rank - below) / count) if count else end


def _buckets(text: str, path: Path) -> list[tuple[float, float, int]]:
    """(upper bound, cumulative count summed over series, a line) sorted by bound; every
    series must be cumulative, or the file is not what it claims."""
    series: dict[str, dict[float, tuple[float, int]]] = {}
    names: dict[str, int] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not _HAS_BUCKETS.match(line):
            continue
        match = _BUCKET.match(line.strip())
        if not match:
            raise _bad(path, number, f"not a bucket line: {line.strip()!r}")
        names.setdefault(match["name"], number)
        if len(names) > 1:
            first = next(iter(names))
            raise _bad(path, number, f"a second histogram {match['name']!r} after {first!r}")
        le = _LE.search(match["labels"])
        if not le:
            raise _bad(path, number, 'a bucket without an "le" label')
        try:
            bound = float(le.group(1))
            count = float(match["value"])
        except ValueError:
            raise _bad(path, number, f"not a bucket bound and count: {line.strip()!r}") from None
        if math.isnan(bound) or not math.isfinite(count) or count < 0:
            raise _bad(path, number, f"not a bucket bound and count: {line.strip()!r}")
        others = _LE.sub("", match["labels"]).strip(", ")
        series.setdefault(others, {})[bound] = (count, number)
    summed: dict[float, tuple[float, int]] = {}
    for buckets in series.values():
        previous = (-math.inf, 0.0)
        for bound in sorted(buckets):
            count, number = buckets[bound]
            if count < previous[1]:
                raise _bad(
                    path,
                    number,
                    f"bucket le={bound:g} counts {count:g}, fewer than le={previous[0]:g}'s "
                    f"{previous[1]:g}: buckets must be cumulative",
                )
            previous = (bound, count)
            summed[bound] = (summed.get(bound, (0.0, number))[0] + count, number)
    return [(bound, count, number) for bound, (count, number) in sorted(summed.items())]


# --- URLs ---------------------------------------------------------------------------------


def _secrets(url: str) -> list[str]:
    """The password in ``url`` as written and decoded, wherever it is."""
    found = re.findall(r"(?:^|[\s&?])(?:ssl)?password\s*=\s*('[^']*'|[^\s&]+)", url)
    if "://" in url:
        try:
            found.append(urlsplit(url).password or "")
        except ValueError:  # a port that is no number: the netloc still holds the password
            found.append(url.split("://", 1)[1].split("@", 1)[0].partition(":")[2])
    out = {s.strip("'") for s in found} | {unquote(s.strip("'")) for s in found}
    return sorted((s for s in out if s), key=len, reverse=True)


def _mask(url: str) -> str:
    """``url`` with its password as ``***``: shown in messages and in ``source``."""
    masked = url
    if "://" in url:
        scheme, rest = url.split("://", 1)
        head, question, query = rest.partition("?")
        userinfo, at, host = head.rpartition("@")
        user, colon, _ = userinfo.partition(":")
        masked = f"{scheme}://{user}{':***' if colon else ''}{at}{host}{question}{query}"
    masked = re.sub(r"((?:^|[\s&?])(?:ssl)?password\s*=\s*)('[^']*'|[^\s&]+)", r"\1***", masked)
    for secret in _secrets(url):
        masked = masked.replace(secret, "***")
    return masked


def _reason(exc: BaseException, url: str) -> str:
    """The first line of a driver's message, without the connection preamble we say
    ourselves, and without the password should a driver ever echo it."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    text = lines[0] if lines else type(exc).__name__
    text = re.sub(r"^connection failed: (connection to server .*? failed: )?", "", text)
    for secret in _secrets(url):
        text = text.replace(secret, "***")
    return text
