"""A minimal client of the proxy's control API, for envctl itself (engine, `envctl fault`).

Standard library only: the engine and the CLI talk to the proxy without loading aiohttp.
"""

from __future__ import annotations

import http.client
import json
from typing import Any


class ProxyUnreachable(OSError):
    """The proxy did not answer (not running, or not listening yet)."""


def call(
    host: str, port: int, method: str, path: str, body: Any = None, timeout: float = 10.0
) -> tuple[int, Any]:
    """(status, decoded JSON or None) of one request to the control API."""
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        payload = json.dumps(body).encode() if body is not None else None
        headers = {"Content-Type": "application/json", "User-Agent": "envctl"}
        conn.request(method, path, body=payload, headers=headers)
        response = conn.getresponse()
        data = response.read()
    except (OSError, http.client.HTTPException) as exc:
        raise ProxyUnreachable(f"{method} {path}: {exc}") from None
    finally:
        conn.close()
    try:
        return response.status, json.loads(data) if data else None
    except ValueError:
        return response.status, data.decode("utf-8", errors="replace")
