"""Every runnable example in the docs runs, and does what the doc says.

One test per Markdown file with examples (README.md and every docs/*.md, found anew on
each run, so a new doc is covered the moment it has one). A file's blocks run in order in
one scratch dir holding copies of the repo's blueprints/ and examples/, with the venv's
`envctl` first on PATH, a private ENVCTL_STATE_DIR, REPO set to the repo root and none
of the developer's ENVCTL_* settings. When the file is done nothing may be left running.
The syntax of example blocks is in doc_blocks.py.

A snippet that starts something in the background must send its output elsewhere
(`> log 2>&1 &`), or its output pipe stays open until the block's timeout.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from doc_blocks import Block, ExampleSyntaxError, examples
from doc_shell import REPO, VENV_BIN, bash, clean_environ, live_environments, tear_down_all

BLOCK_TIMEOUT = 120.0  # seconds per block
COPIED_DIRS = ("blueprints", "examples")
ENVCTL = VENV_BIN / "envctl"

# The docs whose subject can be shown on the local runtime in seconds: each must keep at
# least one runnable example (so an edit cannot silently turn a doc back into prose).
MUST_HAVE_EXAMPLES = (
    "README.md",
    "docs/quickstart.md",
    "docs/blueprint.md",
    "docs/runtimes.md",
    "docs/faults.md",
    "docs/seeding.md",
    "docs/cost.md",
    "docs/audit.md",
    "docs/secrets.md",
    "docs/cli.md",
    "docs/ci.md",
)


def markdown_files() -> list[Path]:
    return [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]


def _examples_or_none(path: Path) -> list[Block]:
    try:
        return examples(path)
    except ExampleSyntaxError:
        return [Block(0, "?", "")]  # reported by test_example_blocks_are_well_formed


DOCS_WITH_EXAMPLES = [p for p in markdown_files() if _examples_or_none(p)]


def _name(path: Path) -> str:
    return str(path.relative_to(REPO)) if path.is_relative_to(REPO) else str(path)


@pytest.mark.parametrize("path", markdown_files(), ids=_name)
def test_example_blocks_are_well_formed(path: Path) -> None:
    try:
        examples(path)
    except ExampleSyntaxError as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.mark.parametrize("name", MUST_HAVE_EXAMPLES)
def test_doc_has_runnable_examples(name: str) -> None:
    path = REPO / name
    assert path.exists(), f"{name} is missing"
    assert any(b.runs for b in examples(path)), (
        f"{name} has no ```sh example block: show its subject in a snippet that runs"
    )


def _scratch(tmp_path: Path) -> Path:
    work = tmp_path / "work"
    work.mkdir(parents=True)
    ignore = shutil.ignore_patterns("__pycache__", ".pytest_cache", "*.pyc")
    for name in COPIED_DIRS:
        if (REPO / name).is_dir():
            shutil.copytree(REPO / name, work / name, ignore=ignore)
    return work


class ExampleFailed(AssertionError):
    pass


def run_examples(path: Path, tmp_path: Path) -> None:
    """Run ``path``'s examples in order; raise ExampleFailed naming the file, the block's
    line, its command and its output, or the environments left running."""
    assert ENVCTL.exists(), f"no envctl next to {VENV_BIN / 'python'}: pip install -e ."
    work = _scratch(tmp_path)
    env = clean_environ(
        ENVCTL_STATE_DIR=str(tmp_path / "state"),
        REPO=str(REPO),
        PATH=f"{VENV_BIN}:{clean_environ().get('PATH', '')}",
    )
    # Run by GitHub Actions, an example's `envctl run` must not write the job's summary.
    env.pop("GITHUB_STEP_SUMMARY", None)
    try:
        for block in examples(path):
            if block.file is not None:
                target = work / block.file
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(block.text, encoding="utf-8")
                continue
            done = bash(block.text, cwd=work, env=env, timeout=BLOCK_TIMEOUT)
            if done.code != block.exit:
                raise ExampleFailed(_failure(path, block, done.code, done.tail()))
        if left := live_environments(ENVCTL, env):
            raise ExampleFailed(f"{_name(path)}: its examples left environments running: {left}")
    finally:
        tear_down_all(ENVCTL, env)


def _failure(path: Path, block: Block, code: int | None, output: str) -> str:
    outcome = "was stopped at its timeout" if code is None else f"exited {code}"
    command = "".join(f"    {line}\n" for line in block.text.splitlines())
    return (
        f"{_name(path)}:{block.line}: the example {outcome}, expected exit {block.exit}\n"
        f"  command:\n{command}  output:\n{output}"
    )


@pytest.mark.local
@pytest.mark.parametrize("path", DOCS_WITH_EXAMPLES, ids=_name)
def test_doc_examples_run(path: Path, tmp_path: Path) -> None:
    try:
        run_examples(path, tmp_path)
    except ExampleFailed as exc:
        message = str(exc)
    else:
        return
    pytest.fail(message, pytrace=False)  # outside `except`: no chained traceback


# ------------------------------------------------------------ the runner itself


FAILING_DOC = """# A doc

```text example file=greeting.txt
hello from a file
```

```sh example
grep -q "hello from a file" greeting.txt
test -d blueprints && test "$REPO" = "{repo}"
```

```sh example exit=3
echo "about to fail"; exit 3
```

```sh example
echo "this goes wrong"
false
echo "never printed"
```
"""


@pytest.mark.local
def test_a_failing_example_names_its_file_line_command_and_output(tmp_path: Path) -> None:
    doc = tmp_path / "doc.md"
    doc.write_text(FAILING_DOC.replace("{repo}", str(REPO)), encoding="utf-8")
    with pytest.raises(ExampleFailed) as info:
        run_examples(doc, tmp_path / "run")
    message = str(info.value)
    assert message.startswith(f"{doc}:16: the example exited 1, expected exit 0\n"), message
    command, output = message.split("  output:\n")
    assert "    false\n" in command
    assert output == "this goes wrong\n"  # bash -e stopped at `false`


LEAVES_ONE_RUNNING = """```yaml example file=idle.yaml
apiVersion: envctl/v1
kind: Blueprint
metadata: {name: idle}
services:
  web:
    ports: [8000]
    local: {command: "python -m http.server ${self.port} --bind 127.0.0.1"}
```

```sh example
envctl up idle.yaml
```
"""


@pytest.mark.local
def test_an_environment_left_running_fails_the_doc_and_is_torn_down(tmp_path: Path) -> None:
    doc = tmp_path / "doc.md"
    doc.write_text(LEAVES_ONE_RUNNING, encoding="utf-8")
    with pytest.raises(ExampleFailed, match=r"left environments running: \['idle-"):
        run_examples(doc, tmp_path / "run")
    env = clean_environ(ENVCTL_STATE_DIR=str(tmp_path / "run" / "state"))
    assert live_environments(ENVCTL, env) == []


def test_a_block_past_its_timeout_is_stopped_with_its_children(tmp_path: Path) -> None:
    script = "sleep 60 & echo $! > child.pid\necho started\nwait\n"
    done = bash(script, cwd=tmp_path, env=clean_environ(), timeout=1)
    assert done.code is None
    assert done.output.startswith("started\n") and "[stopped after 1 s]" in done.output
    child = int((tmp_path / "child.pid").read_text())
    assert not Path(f"/proc/{child}").exists() or _is_zombie(child)


def _is_zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] == "Z"
    except OSError:
        return True
