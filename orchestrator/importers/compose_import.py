"""``envctl import compose``: read, convert, validate with the real loader, write.

Nothing is written unless the blueprint loads: the same loader ``envctl validate`` uses
checks it (references, paths of schemas, names), so an imported blueprint is one that
``envctl up`` accepts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from orchestrator.exceptions import BlueprintError, EnvctlError, UsageError
from orchestrator.importers import blueprint_yaml, compose_file, compose_parse, passwords
from orchestrator.importers.compose_convert import Conversion, convert
from orchestrator.importers.naming import NAME_PATTERN_TEXT, dns_label, is_dns_label
from orchestrator.importers.notes import Note

STDOUT = "-"


@dataclass(frozen=True)
class ImportResult:
    compose_file: Path
    blueprint_file: Path | None  # None when printed
    text: str
    conversion: Conversion

    @property
    def notes(self) -> tuple[Note, ...]:
        return self.conversion.notes

    def to_dict(self) -> dict[str, object]:
        return {
            "blueprint": str(self.blueprint_file) if self.blueprint_file else None,
            "compose_file": str(self.compose_file),
            "name": self.conversion.blueprint["metadata"]["name"],
            "services": self.conversion.services,
            "secrets": self.conversion.secrets,
            "notes": [n.as_dict() for n in self.notes],
        }


def import_compose(
    file: str | None,
    *,
    out: str | None,
    name: str | None,
    force: bool,
    environ: Mapping[str, str],
    cwd: Path,
) -> ImportResult:
    path = compose_file.locate(file, cwd)
    compose, notes = compose_file.read(path, environ)
    project = compose_parse.project(compose, notes)
    blueprint_name = _name(name, project.name, compose.directory)
    target = _target(out, compose.path, blueprint_name, cwd)
    directory = (target or compose.directory / f"{blueprint_name}.yaml").parent
    conversion = convert(project, notes, name=blueprint_name, out_dir=directory)
    shown = _shown(compose.path, directory)
    text = blueprint_yaml.render(conversion.blueprint, conversion.notes, shown)
    _check_no_secrets(text, conversion)
    if target is not None:
        if target.exists() and not force:
            raise UsageError(
                f"{str(target)!r} exists; not overwriting it",
                hint="add --force to replace it, or choose another file with -o",
            )
        # Before validating: the loader finds schema files through this directory.
        target.parent.mkdir(parents=True, exist_ok=True)
    _validate(text, target or directory / f"{blueprint_name}.yaml", compose.path)
    if target is not None:
        target.write_text(text, encoding="utf-8")
    return ImportResult(compose.path, target, text, conversion)


def _name(given: str | None, project: str | None, directory: Path) -> str:
    if given is not None:
        if not is_dns_label(given):
            raise UsageError(
                f"invalid blueprint name {given!r}", hint=f"a name is {NAME_PATTERN_TEXT}"
            )
        return given
    return dns_label(project or directory.name, "imported")


def _target(out: str | None, compose: Path, name: str, cwd: Path) -> Path | None:
    if out == STDOUT:
        return None
    target = compose.parent / f"{name}.yaml" if out is None else cwd / Path(out).expanduser()
    target = target.resolve()
    if target == compose:
        raise UsageError(
            f"the blueprint would overwrite the Compose file {str(compose)!r}",
            hint="choose another file with -o FILE (or --name)",
        )
    return target


def _shown(compose: Path, directory: Path) -> str:
    from orchestrator.importers.paths import relative

    return relative(compose, directory)


def _check_no_secrets(text: str, conversion: Conversion) -> None:
    # The converter replaces every literal secret; this is the guarantee that it did: a
    # long value anywhere, and any value, however short, where a password is written.
    weak = set(conversion.weak_values)
    if any(value in text for value in conversion.secret_values) or any(
        password in weak for password in passwords.literals(text)
    ):
        raise EnvctlError(
            "refusing to write the blueprint: a secret value from the Compose file is still in it",
            hint="this is a bug in envctl import; please report it (without the file's secrets)",
        )


def _validate(text: str, where: Path, compose: Path) -> None:
    from orchestrator.blueprint.loader import loads

    try:
        loads(text, str(where))
    except BlueprintError as exc:
        raise UsageError(
            f"the blueprint converted from {str(compose)!r} does not validate:\n"
            + "\n".join("  " + line for line in exc.render().splitlines()),
            hint="edit the Compose file where it says, or write the blueprint from "
            "`envctl import compose -o -` by hand",
        ) from None
