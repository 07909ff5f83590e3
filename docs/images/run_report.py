"""Regenerate ``docs/images/run-report.png``: the HTML report of a real demo run, as
Debian's Chromium renders it headless at 1280 px wide, the full height of the page.

    .venv/bin/python docs/images/run_report.py               # runs the demo first (~15 s)
    .venv/bin/python docs/images/run_report.py --html FILE   # a report.html you have

The demo runs with a private state dir, so it leaves nothing behind. The page itself has
no script; to learn its height, a throwaway copy gets one line that writes it into the
title, which ``--dump-dom`` prints. Then one screenshot at exactly that size.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

OUT = Path(__file__).resolve().parent / "run-report.png"
WIDTH = 1280
TIMEOUT = 120  # seconds for one envctl or Chromium run
MEASURE = "<script>document.title = 'height=' + document.documentElement.scrollHeight</script>"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--html", type=Path, help="a report.html (default: run the demo)")
    parser.add_argument("--out", type=Path, default=OUT, help=f"the PNG (default: {OUT})")
    args = parser.parse_args()
    chromium = shutil.which("chromium")
    if chromium is None:
        sys.exit("chromium is not installed (apt-get install chromium)")
    with tempfile.TemporaryDirectory(prefix="envctl-shot-") as scratch:
        work = Path(scratch)
        html = args.html or demo_report(work)
        height = page_height(chromium, html, work)
        shoot(chromium, html, height, args.out, work)
    print(f"wrote {args.out} ({WIDTH}x{height})")
    return 0


def demo_report(work: Path) -> Path:
    """``envctl run blueprints/checkout.yaml --report DIR``: its report.html."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ENVCTL_", "GITHUB_"))}
    env["ENVCTL_STATE_DIR"] = str(work / "state")
    envctl = [sys.executable, "-m", "orchestrator"]
    command = [*envctl, "-q", "run", "blueprints/checkout.yaml", "--report", str(work / "report")]
    done = subprocess.run(
        command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, timeout=TIMEOUT, check=False
    )
    if done.returncode != 0:
        sys.exit(f"the demo run exited {done.returncode}; its report is not a good picture")
    return work / "report" / "report.html"


def page_height(chromium: str, html: Path, work: Path) -> int:
    page = html.read_text("utf-8")
    page = re.sub(r'<meta http-equiv="Content-Security-Policy"[^>]*>', "", page)
    probe = work / "measure.html"
    probe.write_text(page.replace("</body>", MEASURE + "</body>"), "utf-8")
    dom = run(chromium, work, f"--window-size={WIDTH},800", "--dump-dom", probe.as_uri())
    found = re.search(r"<title>height=(\d+)</title>", dom)
    if not found:
        sys.exit("could not measure the page's height")
    return int(found.group(1))


def shoot(chromium: str, html: Path, height: int, out: Path, work: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    run(chromium, work, f"--window-size={WIDTH},{height}", f"--screenshot={out}", html.as_uri())


def run(chromium: str, work: Path, *args: str) -> str:
    profile = work / f"profile-{len(list(work.glob('profile-*')))}"
    command = [chromium, *chromium_flags(), f"--user-data-dir={profile}", *args]
    done = subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT, check=False)
    if done.returncode != 0:
        sys.exit(f"chromium exited {done.returncode}: {done.stderr[-2000:]}")
    return done.stdout


def chromium_flags() -> list[str]:
    """Chromium's flags as the report tests run it: one list, in their report_browser."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from tests.integration.report.report_browser import FLAGS

    return FLAGS


if __name__ == "__main__":
    sys.exit(main())
