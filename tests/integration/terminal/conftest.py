"""A real terminal for envctl: a tmux pane on a private server, read back as text."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import ENVCTL, ROOT, Cli

WIDTH, HEIGHT = 120, 40
EXIT = re.compile(r"^\[envctl exited (\d+)\]$", re.MULTILINE)


@dataclass
class Pane:
    """One command running in a 120x40 pane; ``-L`` keeps tmux off the user's server."""

    socket: str

    def tmux(self, *args: str) -> str:
        done = subprocess.run(
            ["tmux", "-L", self.socket, "-f", "/dev/null", *args],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        )
        return done.stdout

    def start(self, argv: list[str], env: dict[str, str]) -> None:
        # The pane's shell outlives envctl (for the final capture) and says how it ended.
        assignments = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items())
        command = (
            f"cd {shlex.quote(str(ROOT))} && env -i {assignments} "
            f'{shlex.join(argv)}; echo "[envctl exited $?]"; sleep 600'
        )
        self.tmux("new-session", "-d", "-x", str(WIDTH), "-y", str(HEIGHT), "-s", "t", command)

    def screen(self, escapes: bool = False) -> str:
        """The whole pane, with what scrolled off the top; ``escapes``: its SGR codes too."""
        return self.tmux("capture-pane", "-p", "-J", "-S", "-", *(["-e"] if escapes else []))

    def send(self, *keys: str) -> None:
        self.tmux("send-keys", "-t", "t", *keys)

    def wait_for(self, seen: Callable[[str], bool], timeout: float = 60.0) -> str:
        """Polls the screen (bounded) until ``seen`` says yes; the screen it said yes to."""
        deadline = time.monotonic() + timeout
        screen = ""
        while time.monotonic() < deadline:
            screen = self.screen()
            if seen(screen):
                return screen
            time.sleep(0.1)
        raise AssertionError(f"not on screen within {timeout:.0f}s:\n{screen}")

    def exit_code(self, timeout: float = 60.0) -> int:
        screen = self.wait_for(lambda s: EXIT.search(s) is not None, timeout)
        match = EXIT.search(screen)
        assert match is not None
        return int(match[1])


@pytest.fixture
def pane(cli: Cli) -> Iterator[Callable[..., Pane]]:
    """``pane(args, **env)`` runs ``envctl ARGS`` in a fresh terminal, with ``cli``'s
    private state dir and TERM=xterm-256color."""
    if shutil.which("tmux") is None:
        pytest.skip("tmux is not installed")
    socket = f"envctl-test-{uuid.uuid4().hex[:8]}"
    started: list[Pane] = []

    def run(args: list[str], **extra: str) -> Pane:
        env = {
            "PATH": cli.env()["PATH"],
            "HOME": cli.env().get("HOME", "/root"),
            "LANG": "C.UTF-8",
            "TERM": "xterm-256color",
            "ENVCTL_STATE_DIR": str(cli.state_dir),
            **extra,
        }
        one = Pane(f"{socket}-{len(started)}")
        one.start([*ENVCTL, *args], env)
        started.append(one)
        return one

    yield run
    for one in started:
        socket_path = one.tmux("display-message", "-p", "#{socket_path}").strip()
        subprocess.run(
            ["tmux", "-L", one.socket, "kill-server"], capture_output=True, timeout=10, check=False
        )
        Path(socket_path).unlink(missing_ok=True)  # tmux leaves its socket file behind
