"""Secret values: where they come from, and keeping them out of everything we write.

Sources, first match wins: the variable ``ENVCTL_SECRET_<NAME>``; the secrets file
(``--secrets-file`` or ``ENVCTL_SECRETS_FILE``, dotenv format); a value generated for
this environment when the blueprint declares ``secrets: {NAME: {generate: true}}``.

Every resolved value is registered with the ``Redactor``, which the CLI applies to all
output, logs and errors, and the engine to everything it persists.
"""

from __future__ import annotations

import logging
import re
import secrets as random_source
import string
import threading
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import quote

from orchestrator.exceptions import SecretError

MASK = "***"
MIN_LENGTH = 3  # shorter values would mask ordinary words; documented in docs/secrets.md

# How XML and HTML writers may spell the characters they escape: by name, in decimal or in
# hex. A suite's JUnit file holds `p&ss` as `p&amp;ss`, and a parser hands the raw value
# back, so a mask that knew only the raw form would miss it in the file and let the
# merged report print it.
_ESCAPED = {"&": "amp", "<": "lt", ">": "gt", '"': "quot", "'": "apos"}


def _spelled(char: str) -> str:
    """A pattern for ``char`` as it is, or as any entity an XML or HTML writer uses."""
    if char not in _ESCAPED:
        return re.escape(char)
    code = ord(char)
    return f"(?:{re.escape(char)}|&{_ESCAPED[char]};|&#0*{code};|&#[xX]0*(?i:{code:x});)"


class Redactor:
    """Replaces every known secret value in text with ``***``: as it is, URL-encoded, and
    with its ``& < > " '`` written as XML/HTML entities (any mix of them)."""

    def __init__(self) -> None:
        self._values: set[str] = set()
        self._pattern: re.Pattern[str] | None = None
        self._lock = threading.Lock()

    def add(self, value: str) -> None:
        if len(value) < MIN_LENGTH:
            return
        with self._lock:
            # URL-encoded too: secrets end up inside connection URLs.
            self._values.update({value, quote(value, safe=""), quote(value)})
            ordered = sorted(self._values, key=len, reverse=True)
            self._pattern = re.compile("|".join("".join(map(_spelled, v)) for v in ordered))

    def values(self) -> set[str]:
        with self._lock:
            return set(self._values)

    def __call__(self, text: str) -> str:
        pattern = self._pattern
        return pattern.sub(MASK, text) if pattern is not None else text

    def redact_data(self, data: object) -> object:
        """Redact every string inside JSON-like data."""
        if isinstance(data, str):
            return self(data)
        if isinstance(data, dict):
            return {k: self.redact_data(v) for k, v in data.items()}
        if isinstance(data, list | tuple):
            return [self.redact_data(v) for v in data]
        return data


class RedactingFilter(logging.Filter):
    def __init__(self, redactor: Redactor) -> None:
        super().__init__()
        self.redactor = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = self.redactor(record.getMessage())
        record.args = None
        return True


def read_dotenv(path: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SecretError(
            f"cannot read secrets file {str(path)!r}: {exc.strerror or exc}",
            hint="check --secrets-file (or ENVCTL_SECRETS_FILE)",
        ) from None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.removeprefix("export ").partition("=")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[key.strip()] = value
    return values


class SecretStore:
    """Resolves ``${secret.NAME}`` for one environment."""

    def __init__(
        self,
        environ: Mapping[str, str],
        redactor: Redactor,
        secrets_file: Path | None = None,
        generate: Mapping[str, int] | None = None,
    ) -> None:
        self.environ = environ
        self.redactor = redactor
        self.file_values = read_dotenv(secrets_file) if secrets_file else {}
        self.secrets_file = secrets_file
        self.generate = dict(generate or {})
        self._resolved: dict[str, str] = {}

    def get(self, name: str, where: str) -> str:
        if name not in self._resolved:
            value = self.environ.get(f"ENVCTL_SECRET_{name}")
            if value is None:
                value = self.file_values.get(name)
            if value is None and name in self.generate:
                alphabet = string.ascii_letters + string.digits
                value = "".join(random_source.choice(alphabet) for _ in range(self.generate[name]))
            if value is None:
                raise SecretError(
                    f"secret {name!r} has no value (used at {where})",
                    hint=f"set ENVCTL_SECRET_{name}, add {name}=... to a --secrets-file, "
                    f"or declare `secrets: {{{name}: {{generate: true}}}}` in the blueprint",
                )
            self.redactor.add(value)
            self._resolved[name] = value
        return self._resolved[name]


def redact_file(path: Path, redactor: Redactor) -> None:
    """Mask secrets inside a report a suite wrote (JUnit quotes env vars and URLs), in
    whatever entities its XML writer escaped them with."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
        masked = redactor(text)
        if masked != text:
            path.write_text(masked, encoding="utf-8")
    except OSError:
        pass  # unreadable reports are the suite's to fix; nothing of ours to mask


REDACTIONS_FILE = ".redact"


def save_redactions(redactor: Redactor, work_dir: Path) -> None:
    """Let other envctl processes (`envctl logs`) mask this environment's secrets too.

    The file lives in the environment's private work dir, mode 0600, and goes with it.
    """
    path = work_dir / REDACTIONS_FILE
    path.touch(mode=0o600)
    path.write_text("\n".join(sorted(redactor.values())), encoding="utf-8")


def load_redactions(redactor: Redactor, work_dir: Path) -> None:
    try:
        text = (work_dir / REDACTIONS_FILE).read_text(encoding="utf-8")
    except OSError:
        return
    for value in text.splitlines():
        redactor.add(value)
