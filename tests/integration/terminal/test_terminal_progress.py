"""What a person sees in a terminal, read back from a real one (tmux), and what CI logs
get instead: the live table, plain lines, --quiet, --verbose, NO_COLOR, Ctrl-C."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from typing import Any

import pytest

from tests.conftest import ROOT, Cli, leftovers

pytestmark = pytest.mark.local

CHECKOUT = "blueprints/checkout.yaml"
SECRETIVE = "tests/integration/local/blueprints/secret.yaml"  # a service that prints one
SECRET = "s3cr3t-Vault-Value-42"
SPINNER = set("⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏")  # rich's "dots"
PLAIN_LINE = re.compile(r"^\[\s*[\d.]+s\]\s+(\w+)\s+(.*)$")  # bench/envctl_cli.py's
SUITE_RUNNING = re.compile(r"^[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏]\s+suite\s+contract\s+running\s+[1-9]\d*\.\ds$", re.M)
Terminal = Callable[..., Any]  # the `pane` fixture (conftest.py): runs envctl in tmux
DOC_IMAGE = ROOT / "docs" / "images" / "terminal-progress.txt"


def colour_codes(screen: str) -> list[str]:
    """SGR sequences that set a colour (tmux writes 39/49 to reset: not colours)."""
    return re.findall(r"\x1b\[(?:[\d;]*;)?(?:3[0-7]|4[0-7]|9[0-7]|[34]8;[25];[\d;]+)m", screen)


def row(screen: str, *words: str) -> str:
    """The one line of the screen that has these words in this order."""
    pattern = re.compile(r"\s+".join(re.escape(w) for w in words))
    found = [line for line in screen.splitlines() if pattern.search(line)]
    assert len(found) == 1, f"{words} on {len(found)} lines of:\n{screen}"
    return found[0]


def test_the_live_view_shows_each_service_seed_and_suite_then_the_summary(
    pane: Terminal, cli: Cli
) -> None:
    term = pane(["run", CHECKOUT])
    # Mid-run: something is still going, with a spinner and a running clock.
    mid = term.wait_for(
        lambda s: any(ch in s for ch in SPINNER) and "envctl  checkout-" in s, timeout=30
    )
    spinning = [line for line in mid.splitlines() if line[:1] in SPINNER]
    assert spinning, mid
    assert all(re.search(r"\d+\.\ds$", line.rstrip()) for line in spinning), spinning
    # The suite, while it runs: done rows above it, its clock ticking.
    testing = term.wait_for(lambda s: SUITE_RUNNING.search(s) is not None, timeout=60)
    assert "✓  seed     db" in testing

    assert term.exit_code(timeout=90) == 0, term.screen()
    final = term.screen()
    summary = final[final.index("PASSED  checkout-") :]
    for service in ("db", "cache", "payments-provider", "orders"):
        line = row(final, "✓", "service", service, "ready")
        address = re.search(r"\s(127\.0\.0\.1:\d+)\s", line)
        assert address, f"where it listens: {line}"
        # the address the summary gives for it (in its URL), not just any address
        listed = re.search(rf"^  {re.escape(service)}\s+\S*\b(127\.0\.0\.1:\d+)\b", summary, re.M)
        assert listed and listed[1] == address[1], (line, summary)
        assert re.search(r"\d+\.\d+s$", line.rstrip()), line
    assert re.search(r"15\.\d+", row(final, "service", "db", "ready")), "the server's version"
    assert "310,500 rows" in row(final, "✓", "seed", "db", "seeded")
    assert "20,000 keys" in row(final, "✓", "seed", "cache", "seeded")
    suite = row(final, "✓", "suite", "contract", "passed")
    tests = int(re.search(r"(\d+) tests, 0 failing", suite)[1])  # type: ignore[index]
    assert tests > 0
    assert "torn down" in row(final, "✓", "teardown")
    assert re.search(r"envctl\s+checkout-\w+ on local\s+·\s+finished", final)
    # The suite's own output scrolled by above the table, and the summary follows it.
    assert re.search(rf"{tests} passed in [\d.]+s", final)
    table_end = final.index(row(final, "✓", "teardown"))
    assert final.index("PASSED  checkout-") > table_end
    assert "Traceback" not in final
    assert colour_codes(term.screen(escapes=True)), "a terminal gets colour by default"

    if os.environ.get("ENVCTL_WRITE_DOC_IMAGES") == "1":

        def shown(screen: str) -> str:
            screen = screen.split("[envctl exited", maxsplit=1)[0].rstrip()
            return screen.replace(str(cli.state_dir), "$ENVCTL_STATE_DIR")

        DOC_IMAGE.write_text(
            f"# `envctl run {CHECKOUT}` in a 120x40 terminal (tests/integration/terminal)\n"
            f"\n# while the suite runs:\n\n{shown(testing)}\n"
            f"\n# when it is done:\n\n{shown(final)}\n",
            encoding="utf-8",
        )


def test_no_color_and_verbose_in_the_live_view(pane: Terminal) -> None:
    term = pane(["-v", "run", SECRETIVE], NO_COLOR="1", ENVCTL_SECRET_LEAKY=SECRET)
    assert term.exit_code() == 0, term.screen()
    final = term.screen()
    # Each service's own output, prefixed by its name, printed above the table, masked.
    assert re.search(r"^db\s+\| .*LOG:  database system is ready", final, re.MULTILINE), final
    assert re.search(r"^chatty\s+\| my token is \*\*\*$", final, re.MULTILINE), final
    assert SECRET not in final
    assert final.index("chatty  | my token") < final.index(row(final, "✓", "teardown"))
    escapes = term.screen(escapes=True)
    assert "\x1b[" in escapes, "still styled (bold, dim), just not coloured"
    assert colour_codes(escapes) == [], "NO_COLOR: no colour at all"


def test_ctrl_c_stops_the_view_and_it_shows_the_teardown(pane: Terminal, cli: Cli) -> None:
    term = pane(["run", CHECKOUT])
    busy = term.wait_for(lambda s: SUITE_RUNNING.search(s) is not None)
    env_id = re.search(r"envctl\s+(checkout-\w+) on local", busy)[1]  # type: ignore[index]
    term.send("C-c")
    assert term.exit_code() == 130
    final = term.screen()
    assert "torn down" in row(final, "✓", "teardown")
    # cut short where it was (the engine calls that failed or interrupted), not passed
    assert re.search(r"^[✗!]\s+suite\s+contract\s+(failed|interrupted)", final, re.M), final
    assert "envctl: error: interrupted" in final
    assert final.index("envctl: error:") > final.index(row(final, "✓", "teardown"))
    assert "Traceback" not in final
    assert leftovers(env_id) == []
    assert cli.live() == []


def test_piped_output_is_plain_lines(cli: Cli) -> None:
    done = cli("run", CHECKOUT)
    assert done.returncode == 0, done.stderr
    assert "\x1b" not in done.stderr
    lines = [line for line in done.stderr.splitlines() if line and not line.startswith("    ")]
    assert lines and all(PLAIN_LINE.match(line) for line in lines), done.stderr
    verbs = [PLAIN_LINE.match(line)[1] for line in lines]  # type: ignore[index]
    assert {"planning", "starting", "ready", "seeding", "suite", "teardown"} <= set(verbs)
    assert done.stdout.startswith("PASSED  checkout-")


def test_quiet_prints_only_the_result(cli: Cli) -> None:
    done = cli("-q", "run", SECRETIVE, "-o", "json", env={"ENVCTL_SECRET_LEAKY": SECRET})
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert json.loads(done.stdout)["status"] == "passed"


def test_verbose_streams_each_services_output_as_plain_lines(cli: Cli) -> None:
    done = cli("-v", "run", SECRETIVE, env={"ENVCTL_SECRET_LEAKY": SECRET})
    assert done.returncode == 0, done.stderr
    lines = done.stderr.splitlines()
    assert "chatty  | my token is ***" in lines
    db = [line for line in lines if line.startswith("db      | ")]
    assert any("database system is ready to accept connections" in line for line in db), lines
    assert any("database system is shut down" in line for line in db), "read out at teardown"
    assert SECRET not in done.stderr + done.stdout


def test_progress_live_draws_the_table_even_into_a_pipe(cli: Cli) -> None:
    done = cli("--progress", "live", "run", SECRETIVE, env={"ENVCTL_SECRET_LEAKY": SECRET})
    assert done.returncode == 0, done.stderr
    assert colour_codes(done.stderr), "forced: a terminal's output, colours and all"
    text = re.sub(r"\x1b\[[\d;?]*[A-Za-z]", "", done.stderr)
    assert re.search(r"✓\s+suite\s+leak\s+passed\s+1 test, 0 failing", text), text
    assert not any(PLAIN_LINE.match(line) for line in text.splitlines()), text
