"""envctl's end of the port-forwarding child process (``portforward.main``).

One child per runtime object, started when the first environment is prepared (it
connects to the API while the namespace is being made) and ended with the last
environment destroyed — or with envctl itself: the child stops when its stdin closes,
which the kernel does even when envctl is SIGKILLed.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import orchestrator
from orchestrator.exceptions import RuntimeUnavailable
from orchestrator.runtime.base import Endpoint
from orchestrator.settings import Settings

HINT = "see the port-forward messages above; is the cluster reachable from this host?"


class Forwarding:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._proc: subprocess.Popen[str] | None = None
        self._ready = False
        self._lock = threading.Lock()  # one request and its answer at a time
        self._keys: set[str] = set()

    def start(self) -> None:
        """Start the child (without waiting for it to reach the API)."""
        with self._lock:
            self._spawn()

    def forward(
        self, key: str, namespace: str, env_label: str, service: str, port: int
    ) -> Endpoint:
        """A listener on 127.0.0.1 relaying to ``port`` of the service's pod."""
        request = {
            "op": "forward",
            "key": key,
            "namespace": namespace,
            "env_label": env_label,
            "service": service,
            "port": port,
        }
        answer = self._ask(request)
        if "port" not in answer:
            raise RuntimeUnavailable(f"no port-forward for {key}: {answer}", hint=HINT)
        self._keys.add(key)
        return Endpoint("127.0.0.1", int(answer["port"]))

    def stop(self, keys: Iterable[str]) -> None:
        """End these listeners and the connections they relay; unknown keys are fine."""
        wanted = sorted(set(keys) & self._keys)
        if not wanted:
            return
        self._ask({"op": "stop", "keys": wanted})
        self._keys.difference_update(wanted)

    @property
    def keys(self) -> set[str]:
        return set(self._keys)

    def close(self) -> None:
        """End the child and every listener in it. Idempotent."""
        with self._lock:
            proc, self._proc, self._ready = self._proc, None, False
            self._keys.clear()
        if proc is None:
            return
        if proc.stdin is not None:
            proc.stdin.close()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()

    # the child -------------------------------------------------------------------------

    def _spawn(self) -> subprocess.Popen[str]:
        if self._proc is not None and self._proc.poll() is None:
            return self._proc
        env = dict(self._settings.environ)
        if self._settings.kube_context:
            env["ENVCTL_KUBE_CONTEXT"] = self._settings.kube_context
        # The child imports this very checkout of envctl, wherever it was started from.
        source = str(Path(orchestrator.__file__).resolve().parent.parent)
        env["PYTHONPATH"] = source + (f":{env['PYTHONPATH']}" if env.get("PYTHONPATH") else "")
        self._proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "orchestrator.runtime.kubernetes.forwarding",
                # envctl -v / -vv: the child says as much as envctl does.
                str(logging.getLogger("orchestrator").getEffectiveLevel()),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
            text=True,
            bufsize=1,
            start_new_session=True,  # no terminal signals: it ends with its stdin
        )
        self._ready = False
        return self._proc

    def _ask(self, request: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            proc = self._spawn()
            assert proc.stdin is not None and proc.stdout is not None
            if not self._ready:
                greeting = self._read(proc)
                if not greeting.get("ready"):
                    self._proc = None
                    raise RuntimeUnavailable(
                        f"the port-forward helper could not start: {greeting.get('error')}",
                        hint=HINT,
                    )
                self._ready = True
            try:
                proc.stdin.write(json.dumps(request) + "\n")
                proc.stdin.flush()
            except OSError:
                raise self._died(proc) from None
            return self._read(proc)

    def _read(self, proc: subprocess.Popen[str]) -> dict[str, Any]:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if not line:
            raise self._died(proc)
        answer: dict[str, Any] = json.loads(line)
        return answer

    def _died(self, proc: subprocess.Popen[str]) -> RuntimeUnavailable:
        code = proc.poll()
        self._proc = None
        return RuntimeUnavailable(
            f"the port-forward helper exited (code {code}): the environment's 127.0.0.1 "
            "endpoints are gone",
            hint=HINT,
        )


if __name__ == "__main__":  # the child: run as this module, so that portforward's
    # loggers have their own names (under "orchestrator", which -v/-vv set).
    from orchestrator.runtime.kubernetes.portforward import main

    sys.exit(main())
