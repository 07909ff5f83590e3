"""`envctl completion SHELL`: the script that teaches a shell to complete envctl.

The script calls envctl back on every Tab with ``_ENVCTL_COMPLETE`` set (click's protocol);
blueprint names and live environment ids come from ``blueprint_arg``'s completers.
"""

from __future__ import annotations

import click

SHELLS = ("bash", "zsh", "fish")


@click.command(name="completion")
@click.argument("shell", type=click.Choice(SHELLS))
@click.pass_context
def completion(ctx: click.Context, shell: str) -> None:
    """Print the completion script for SHELL.

    \b
    bash (4.4+), in ~/.bashrc:   eval "$(envctl completion bash)"
    zsh, in ~/.zshrc:            eval "$(envctl completion zsh)"
    fish:                        envctl completion fish > ~/.config/fish/completions/envctl.fish
    """
    from click.shell_completion import get_completion_class

    complete = get_completion_class(shell)
    assert complete is not None  # every one of SHELLS is click's
    root = ctx.find_root().command
    click.echo(complete(root, {}, "envctl", "_ENVCTL_COMPLETE").source())
