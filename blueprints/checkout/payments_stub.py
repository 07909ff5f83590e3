"""Stand-in for a third-party payments API, used by the checkout demo.

    python payments_stub.py --port N [--host 127.0.0.1]

Endpoints:
    GET  /healthz         -> 200 {"status": "ok"}
    POST /charges         {"amount_cents": int > 0, "customer": str}
                          -> 200 {"id": "ch_<12 hex>", "status": "approved"}
                             or  {"id": ..., "status": "declined", "reason": "amount over limit"}
                             when amount_cents > APPROVAL_LIMIT_CENTS; 400 on a bad body.
    GET  /charges/<id>    -> 200 the charge as issued, 404 if unknown.

Like a real provider, a decline is a successful API call (200) that carries a
"declined" status; non-2xx is reserved for malformed requests.  Charges live in
memory only: the stub is ephemeral, like the environments it runs in.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
import uuid
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

APPROVAL_LIMIT_CENTS = 100_000
MAX_BODY_BYTES = 64 * 1024

log = logging.getLogger("payments_stub")

_charges: dict[str, dict[str, Any]] = {}
_charges_lock = threading.Lock()


class BadRequest(Exception):
    """The request body is not a valid charge request."""


def parse_charge_request(raw: bytes) -> tuple[int, str]:
    try:
        body = json.loads(raw)
    except ValueError as exc:
        raise BadRequest("body must be valid JSON") from exc
    if not isinstance(body, dict):
        raise BadRequest("body must be a JSON object")
    amount = body.get("amount_cents")
    customer = body.get("customer")
    # bool is a subclass of int in Python; `true` is not an amount.
    if not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0:
        raise BadRequest("amount_cents must be a positive integer")
    if not isinstance(customer, str) or not customer.strip():
        raise BadRequest("customer must be a non-empty string")
    return amount, customer


class Handler(BaseHTTPRequestHandler):
    server_version = "payments-stub/1.0"
    # Bound how long a stalled client can hold a worker thread.
    timeout = 30

    def do_GET(self) -> None:
        if self.path == "/healthz":
            self.send_json(HTTPStatus.OK, {"status": "ok"})
        elif self.path.startswith("/charges/"):
            charge_id = self.path.removeprefix("/charges/")
            with _charges_lock:
                charge = _charges.get(charge_id)
            if charge is None:
                self.send_json(HTTPStatus.NOT_FOUND, {"error": "no such charge"})
            else:
                self.send_json(HTTPStatus.OK, charge)
        else:
            self.send_json(HTTPStatus.NOT_FOUND, {"error": "not found"})

    def do_POST(self) -> None:
        if self.path != "/charges":
            self.send_json(HTTPStatus.NOT_FOUND, {"error": "not found"})
            return
        try:
            amount, customer = parse_charge_request(self.read_body())
        except BadRequest as exc:
            self.send_json(HTTPStatus.BAD_REQUEST, {"error": str(exc)})
            return

        charge: dict[str, Any] = {
            "id": f"ch_{uuid.uuid4().hex[:12]}",
            "amount_cents": amount,
            "customer": customer,
        }
        if amount <= APPROVAL_LIMIT_CENTS:
            charge["status"] = "approved"
        else:
            charge.update(status="declined", reason="amount over limit")
        with _charges_lock:
            _charges[charge["id"]] = charge
        self.send_json(HTTPStatus.OK, charge)

    def read_body(self) -> bytes:
        try:
            length = int(self.headers.get("Content-Length", ""))
        except ValueError as exc:
            raise BadRequest("Content-Length header is required") from exc
        if not 0 <= length <= MAX_BODY_BYTES:
            raise BadRequest(f"body must be at most {MAX_BODY_BYTES} bytes")
        return self.rfile.read(length)

    def send_json(self, status: HTTPStatus, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    # One line per request: method, path, status (replaces the default
    # Apache-style line that also logs the client address and date).
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        status = int(code) if isinstance(code, int) else code
        log.info("%s %s %s", getattr(self, "command", "-"), getattr(self, "path", "-"), status)

    def log_message(self, format: str, *args: Any) -> None:
        log.warning(format, *args)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)

    logging.basicConfig(
        stream=sys.stderr, level=logging.INFO, format="%(asctime)s payments %(message)s"
    )

    server = ThreadingHTTPServer((args.host, args.port), Handler)

    # shutdown() blocks until serve_forever() returns, and serve_forever() runs
    # on this (main) thread, which is also where signal handlers run; so ask
    # for shutdown from another thread to avoid deadlocking.
    def stop(signum: int, _frame: object) -> None:
        log.info("received %s, shutting down", signal.Signals(signum).name)
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    log.info("listening on http://%s:%d", args.host, server.server_address[1])
    try:
        server.serve_forever()
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
