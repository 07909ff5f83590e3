"""Tab completion through click's protocol, against the real envctl: what a shell that
sourced `envctl completion bash` would be offered."""

from __future__ import annotations

import subprocess

import pytest

from tests.conftest import ENVCTL, ROOT, Cli

SECRETIVE = "tests/integration/local/blueprints/secret.yaml"


def complete(cli: Cli, words: str, shell: str = "bash") -> list[tuple[str, str]]:
    """(type, value) pairs envctl offers for the last of ``words`` (or a new word)."""
    parts = words.split(" ")
    done = subprocess.run(
        ENVCTL,
        cwd=ROOT,
        env=cli.env(
            _ENVCTL_COMPLETE=f"{shell}_complete",
            COMP_WORDS=words,
            COMP_CWORD=str(len(parts) - 1),
        ),
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    pairs = [line.split(",", 1) for line in done.stdout.splitlines() if line]
    return [(kind, value) for kind, value in pairs]


def test_blueprint_names_and_paths_complete(cli: Cli) -> None:
    offered = complete(cli, "envctl up ch")
    assert ("plain", "checkout") in offered
    assert ("file", "ch") in offered, "paths are left to the shell's file completion"
    assert ("plain", "checkout") not in complete(cli, "envctl up x")
    assert not cli.state_dir.exists(), "a Tab creates no state"


def test_commands_and_options_complete(cli: Cli) -> None:
    assert ("plain", "completion") in complete(cli, "envctl comp")
    assert ("plain", "--progress") in complete(cli, "envctl --pro")
    assert {v for _, v in complete(cli, "envctl --progress ")} == {"auto", "live", "plain"}


@pytest.mark.local
def test_live_environment_ids_and_their_services_complete(cli: Cli) -> None:
    up = cli.json("up", SECRETIVE, env={"ENVCTL_SECRET_LEAKY": "s3cr3t-Vault-Value-42"})
    env_id = up["env"]
    try:
        for command in ("down", "status", "logs"):
            assert ("plain", env_id) in complete(cli, f"envctl {command} "), command
            assert ("plain", env_id) in complete(cli, f"envctl {command} {env_id[:4]}")
        assert complete(cli, "envctl status nomatch") == []
        services = {v for _, v in complete(cli, f"envctl logs {env_id} ")}
        assert services == {"db", "chatty"}
    finally:
        cli("down", env_id)
    assert ("plain", env_id) not in complete(cli, "envctl down ")


def test_the_bash_script_sources_and_registers_envctl(cli: Cli) -> None:
    script = subprocess.run(
        [*ENVCTL, "completion", "bash"], capture_output=True, text=True, timeout=30, check=True
    ).stdout
    assert "_ENVCTL_COMPLETE=bash_complete" in script
    done = subprocess.run(
        ["bash", "-c", 'eval "$SCRIPT" && complete -p envctl'],
        env={"SCRIPT": script, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert "-F _envctl_completion envctl" in done.stdout


@pytest.mark.parametrize("shell", ["zsh", "fish"])
def test_zsh_and_fish_scripts_name_the_same_protocol(shell: str) -> None:
    done = subprocess.run(
        [*ENVCTL, "completion", shell], capture_output=True, text=True, timeout=30, check=True
    )
    assert f"_ENVCTL_COMPLETE={shell}_complete" in done.stdout.replace('"', "")


def test_an_unknown_shell_is_answered_with_the_known_ones() -> None:
    done = subprocess.run(
        [*ENVCTL, "completion", "tcsh"], capture_output=True, text=True, timeout=30, check=False
    )
    assert done.returncode == 2
    assert "'bash', 'zsh', 'fish'" in done.stderr
