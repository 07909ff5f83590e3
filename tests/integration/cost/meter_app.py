"""A service for the metering tests: listens on a port, and burns CPU, holds memory or
idles. Every 0.2 s it writes its own CPU seconds (``time.process_time``) to REPORT, the
independent measure the meter's figure is checked against."""

from __future__ import annotations

import os
import socket
import sys
import threading
import time
from pathlib import Path


def main() -> None:
    mode, port = sys.argv[1], int(sys.argv[2])
    report = os.environ.get("REPORT")
    held = None
    if mode == "hog":
        size = int(os.environ.get("HOG_MIB", "256")) << 20
        held = bytearray(size)
        for i in range(0, size, 4096):  # touch every page: resident, not just reserved
            held[i] = 1
    if mode == "burn":
        threading.Thread(target=_burn, daemon=True).start()
    if report:
        threading.Thread(target=_report, args=(report,), daemon=True).start()
    with socket.create_server(("127.0.0.1", port)) as server:
        while True:
            conn, _ = server.accept()
            conn.close()
    del held


def _burn() -> None:
    x = 0
    while True:
        x = (x * 31 + 7) % 1_000_003


def _report(path: str) -> None:
    target = Path(path)
    partial = target.with_suffix(".tmp")
    while True:
        partial.write_text(repr(time.process_time()))
        partial.replace(target)
        time.sleep(0.2)


if __name__ == "__main__":
    main()
