"""How a Compose file writes addresses: URLs, and the names a container uses for itself.

One definition for every module that looks for them, so that a form one of them knows
(``[::1]``, ``::``) is not missed by another.
"""

from __future__ import annotations

import re

# A container's own addresses, every way they are written: a listening address
# (0.0.0.0, ::) and a loopback (localhost, 127.0.0.1, ::1), bare and in brackets as
# URLs and `host:port` write IPv6.
LOCAL_HOSTS = ("localhost", "127.0.0.1", "0.0.0.0", "::1", "[::1]", "::", "[::]")

# A URL inside a longer value or a command line: it ends at whitespace, a separator, a
# quote or a backslash (a command line's escapes).
URL = r"[A-Za-z][A-Za-z0-9+.-]*://[^\s,;'\"<>\\]+"


def is_local(host: str) -> bool:
    """``host`` (as urlsplit gives it, or as written) is the container itself."""
    return host.lower() in LOCAL_HOSTS


def alternation(hosts: tuple[str, ...] = LOCAL_HOSTS) -> str:
    """A regex alternation of ``hosts``, longest first, so ``[::1]`` wins over ``::``."""
    return "|".join(re.escape(h) for h in sorted(hosts, key=len, reverse=True))
