"""The last pass over a converted blueprint: what is written holds no secret, and no
value from the user's shell.

Every string a blueprint interpolates (``env`` values, ``local.command``,
``ready.command``) gets, in this order:

1. each literal password in a known context (passwords.py), whatever its length: the
   secret with that value, else a new secret the user gives;
2. each secret value long enough to look for (``SecretBook.searchable``): its secret;
3. each shell marker: ``${env.NAME}`` (shell_values.py).

A ``ready.http`` path that holds a secret (``/health?token=…``) cannot reference it, so
it becomes a ``ready.command`` first. Strings that take no references get the shell's
values back. Last, a note for each
string that still holds a short secret's value as plain text: it may be a word that is
also the password (the user ``postgres``), or the password itself, which only the user
can tell.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from orchestrator.blueprint.source import Path as KeyPath
from orchestrator.importers import passwords, shell_values
from orchestrator.importers.naming import secret_name
from orchestrator.importers.notes import Notes
from orchestrator.importers.secret_book import SecretBook

_REFERENCE = re.compile(r"\$\{[^}]*\}")


@dataclass
class Scrubbed:
    searchable: dict[str, str]  # secret value → name: what notes and the guard look for
    referenced: set[str] = field(default_factory=set)  # shell variables now ${env.NAME}
    kept: set[str] = field(default_factory=set)  # shell variables whose value is written


@dataclass(frozen=True)
class _Text:
    """One interpolated string: where it is in the blueprint and in the Compose file."""

    service: str
    section: str  # env, local or ready
    key: str
    compose_path: KeyPath


def scrub(
    blueprint: dict[str, Any],
    secrets: SecretBook,
    compose_paths: Mapping[str, KeyPath],
    shell: Mapping[str, str],
    notes: Notes,
) -> Scrubbed:
    """Scrub ``blueprint`` in place; ``compose_paths`` maps each blueprint service to its
    Compose one (for notes). Secrets it adds are in ``secrets``, not yet in the blueprint."""
    _probes_with_secrets(blueprint, secrets, compose_paths, notes)
    texts = list(_texts(blueprint, compose_paths))
    for t in texts:
        section = blueprint["services"][t.service][t.section]
        section[t.key] = passwords.replace(section[t.key], _by_context(t, secrets, notes))
    searchable = secrets.searchable(_public_words(blueprint))
    done = Scrubbed(searchable)
    for t in texts:
        section = blueprint["services"][t.service][t.section]
        text = _replace_secrets(section[t.key], searchable)
        done.referenced.update(shell_values.names_in(text))
        section[t.key] = shell_values.as_references(text)
    done.kept.update(_shell_values_back(blueprint, texts, shell))
    literals = secrets.literals()
    for t in texts:
        left = _REFERENCE.sub(" ", blueprint["services"][t.service][t.section][t.key])
        for value, name in literals.items():
            if re.search(rf"(?<![A-Za-z0-9]){re.escape(value)}(?![A-Za-z0-9])", left):
                notes.add(
                    t.compose_path,
                    f"holds the value of ${{secret.{name}}} as plain text: kept, as it may be "
                    f"a word that is also the password (a user, a database); where it is the "
                    f"password, write ${{secret.{name}}}",
                )
    return done


def mask(text: str, searchable: Mapping[str, str]) -> str:
    """A note as it may be shown: secret values as ``***``, markers as ``${NAME}``."""
    for value in sorted(searchable, key=len, reverse=True):
        text = text.replace(value, "***")
    return shell_values.as_written(passwords.replace(text, lambda _: "***"))


def _probes_with_secrets(
    blueprint: dict[str, Any],
    secrets: SecretBook,
    compose_paths: Mapping[str, KeyPath],
    notes: Notes,
) -> None:
    searchable = secrets.searchable(_public_words(blueprint))
    for name, svc in blueprint["services"].items():
        ready = svc.get("ready", {})
        path = ready.get("http")
        if not isinstance(path, str):
            continue
        if any(v in path for v in searchable) or next(passwords.literals(path), None):
            del ready["http"]
            ready["command"] = f"curl -fsS 'http://${{self.host}}:${{self.port}}{path}'"
            notes.add(
                (*compose_paths[name], "healthcheck"),
                "its URL holds a secret, which ready.http cannot reference: now a readiness "
                "command run on the host (curl) that references it",
            )


def _texts(blueprint: dict[str, Any], compose_paths: Mapping[str, KeyPath]) -> list[_Text]:
    out = []
    for name, svc in blueprint["services"].items():
        base = compose_paths[name]
        for key, value in svc.get("env", {}).items():
            if isinstance(value, str):
                out.append(_Text(name, "env", key, (*base, "environment", key)))
        if isinstance(svc.get("local", {}).get("command"), str):
            out.append(_Text(name, "local", "command", (*base, "command")))
        if isinstance(svc.get("ready", {}).get("command"), str):
            out.append(_Text(name, "ready", "command", (*base, "healthcheck")))
    return out


def _by_context(t: _Text, secrets: SecretBook, notes: Notes) -> Any:
    def replacement(password: str) -> str:
        known = secrets.name_of(password)
        if known is None and shell_values.names_in(password):
            return password  # the shell's: it becomes ${env.NAME}
        if known is None:
            what = t.key if t.section == "env" else t.section
            known = secrets.add(secret_name(t.service, what, "password"), password, generate=False)
            notes.add(
                t.compose_path,
                f"a literal password: now ${{secret.{known}}}, which you give with "
                f"ENVCTL_SECRET_{known} or --secrets-file",
            )
        return f"${{secret.{known}}}"

    return replacement


def _public_words(blueprint: dict[str, Any]) -> set[str]:
    """Text that is not secret (names, images, users): a short password that is part of
    one cannot be looked for inside other values."""
    words = set(blueprint["services"])
    for svc in blueprint["services"].values():
        words.add(str(svc.get("image", "")))
        words.update(svc.get("env", {}))
        for key in ("POSTGRES_USER", "POSTGRES_DB"):
            if key in svc.get("env", {}):
                words.add(svc["env"][key])
    return words


def _replace_secrets(text: str, searchable: Mapping[str, str]) -> str:
    for value in sorted(searchable, key=len, reverse=True):
        text = text.replace(value, f"${{secret.{searchable[value]}}}")
    return text


def _shell_values_back(
    blueprint: dict[str, Any], texts: list[_Text], shell: Mapping[str, str]
) -> set[str]:
    """Every other string with markers gets the shell's values: it takes no references.
    The names whose values were written."""
    interpolated = {(t.service, t.section, t.key) for t in texts}
    kept: set[str] = set()

    def walk(value: Any, path: tuple[str, ...]) -> Any:
        if isinstance(value, str):
            names = shell_values.names_in(value)
            if not names or path[-3:] in interpolated:
                return value
            kept.update(names)
            return shell_values.as_values(value, shell)
        if isinstance(value, dict):
            return {k: walk(v, (*path, str(k))) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v, (*path, str(i))) for i, v in enumerate(value)]
        return value

    for name, svc in blueprint["services"].items():
        blueprint["services"][name] = walk(svc, (name,))
    return kept
