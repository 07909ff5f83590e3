"""Passwords inside longer values and command lines, found by what is written before them.

A secret's value is looked for as such only when it is long enough not to be an
ordinary word (``secret_book.MIN_SEARCHABLE``). A weak one (``postgres``, ``pw``) is
found by its context instead, whatever its length::

    password=…  passwd=…  ;pwd=…          libpq keyword DSNs, JDBC/ODBC strings (any case)
    PGPASSWORD=…  REDISCLI_AUTH=…  MYSQL_PWD=…   a command line's environment
    --password …  --password=…  --pass …  --requirepass …  --masterauth …
    redis-cli … -a …    mysql … -p…        those tools' short options
    scheme://user:…@                       a URL's user info

A value that starts with ``$`` is a variable or a reference, not a literal, and one
that starts with ``-`` is the next option; one in quotes is the text inside them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

_VALUE = r"""(?P<value>'[^']*'|"[^"]*"|[^\s&;'"]+)"""
_CONTEXTS = (
    re.compile(rf"(?P<pre>(?<![\w-])(?:password|passwd)\s*=\s*){_VALUE}", re.IGNORECASE),
    # ODBC's and JDBC's short key, only as a key of theirs: a shell's PWD=/app is no password
    re.compile(rf"(?P<pre>(?<=[;?&])pwd\s*=\s*){_VALUE}", re.IGNORECASE),
    re.compile(rf"(?P<pre>(?<![\w-])(?:PGPASSWORD|REDISCLI_AUTH|MYSQL_PWD)=){_VALUE}"),
    re.compile(rf"(?P<pre>(?<![\w-])--(?:password|pass|requirepass|masterauth)(?:=|\s+)){_VALUE}"),
    re.compile(rf"(?P<pre>\bredis-cli\b[^|;&\n]*?\s-a\s+){_VALUE}"),
    # -p with the password attached: `-p 3306` is another tool's port, `-p` alone prompts
    re.compile(r"(?P<pre>\bmysql(?:admin|dump)?\b[^|;&\n]*?\s-p)(?P<value>[^\s&;'\"]+)"),
    re.compile(r"(?P<pre>\b[A-Za-z][A-Za-z0-9+.-]*://[^\s:/@'\"]*:)(?P<value>[^\s@/'\"]+)(?=@)"),
)


def _literal(value: str) -> tuple[str, str, str] | None:
    """(opening quote, text, closing quote) of a literal password, else None."""
    quote = value[:1] if value[:1] in ("'", '"') and value[-1:] == value[:1] else ""
    text = value[len(quote) : len(value) - len(quote)]
    # `$…` is a variable or a reference; `-…` the next option (`--password` alone prompts)
    if not text or text.startswith(("$", "-")) or text == "***":
        return None
    return quote, text, quote


def literals(text: str) -> Iterator[str]:
    """Every literal password written in a known context in ``text``."""
    for pattern in _CONTEXTS:
        for match in pattern.finditer(text):
            found = _literal(match.group("value"))
            if found is not None:
                yield found[1]


def replace(text: str, replacement: Callable[[str], str]) -> str:
    """``text`` with each literal password in a known context replaced by
    ``replacement(password)``, its quotes kept."""
    for pattern in _CONTEXTS:

        def one(match: re.Match[str]) -> str:
            found = _literal(match.group("value"))
            if found is None:
                return match.group(0)
            opening, password, closing = found
            return f"{match.group('pre')}{opening}{replacement(password)}{closing}"

        text = pattern.sub(one, text)
    return text
