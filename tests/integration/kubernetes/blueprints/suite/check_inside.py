"""Runs inside the environment's namespace: reaches the cache by its in-cluster address,
and writes a JUnit file and a note into the run dir for envctl to collect."""

import os
import socket
import sys
from pathlib import Path

host, port = os.environ["ENVCTL_CACHE_HOST"], int(os.environ["ENVCTL_CACHE_PORT"])
socket.create_connection((host, port), timeout=5).close()
print("reached", host, port, os.environ["ENVCTL_CACHE_URL"])
(Path(os.environ["ENVCTL_RUN_DIR"]) / "inside.txt").write_text(f"{host}:{port}")
Path(sys.argv[1]).write_text(
    '<testsuite name="inside" tests="1" failures="0" errors="0" skipped="0">'
    '<testcase classname="inside" name="reaches_the_cache"/></testsuite>\n'
)
