"""Environment values that name another service become blueprint references.

In Compose, services reach each other by name: ``postgres://u:p@db:5432/app``,
``redis://cache:6379/0``, ``http://api:8000``, ``db:5432``, ``DB_HOST=db``. In a
blueprint the address is only known when the environment starts, so the values become
``${db.url}`` (when the value is the engine's whole URL: its user, database and
password), else ``${db.host}``/``${db.port}`` inside the rest of the value. Passwords in
URLs become ``${secret.NAME}``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

from orchestrator.importers.naming import secret_name
from orchestrator.importers.secret_book import SecretBook

LOCAL_HOSTS = ("localhost", "127.0.0.1", "0.0.0.0", "::", "[::]")
_HOST_KEY = re.compile(r"(HOST|HOSTNAME|SERVER|ADDR|ADDRESS)$")
_PORT_KEY = re.compile(r"^(PORT|[A-Z0-9_]*_PORT)$")
SECRET_KEY = re.compile(
    r"(PASSWORD|PASSWD|_PASS$|^PASS$|SECRET|TOKEN|API_?KEY|PRIVATE_KEY|ACCESS_KEY|CREDENTIAL)"
)
_URL = r"[A-Za-z][A-Za-z0-9+.-]*://[^\s,;'\"]+"


@dataclass(frozen=True)
class Target:
    """A service others may name, as the rewriter needs to know it."""

    name: str  # its blueprint name
    engine: str | None = None
    ports: tuple[int, ...] = ()
    user: str | None = None  # postgres: POSTGRES_USER (default postgres)
    database: str | None = None  # postgres: POSTGRES_DB (default: the user)
    password: str | None = None  # the literal password the Compose file gave it
    secret: str | None = None  # the blueprint secret holding it now

    @property
    def port(self) -> int | None:
        return self.ports[0] if self.ports else None


@dataclass
class Rewrite:
    """One service's environment, rewritten, with notes keyed by variable."""

    env: dict[str, str] = field(default_factory=dict)
    notes: list[tuple[str, str]] = field(default_factory=list)
    references: set[str] = field(default_factory=set)  # services named


class Rewriter:
    def __init__(self, hosts: Mapping[str, Target], secrets: SecretBook) -> None:
        self.hosts = {h.lower(): t for h, t in hosts.items()}
        self.secrets = secrets
        names = "|".join(re.escape(h) for h in sorted(self.hosts, key=len, reverse=True))
        host_port = rf"(?<![\w.@/:-])(?P<host>{names}):(?P<port>\d{{1,5}})(?![\w.])"
        self._pattern = re.compile(rf"(?P<url>{_URL})" + (f"|{host_port}" if names else ""), re.I)

    def env(self, consumer: str, env: Mapping[str, str | None], own_port: int | None) -> Rewrite:
        out = Rewrite()
        paired: dict[str, Target] = {}
        for key, value in env.items():
            if value is None:  # `- NAME` passes the caller's value through, as in Compose
                out.env[key] = f"${{env.{key}:-}}"
                continue
            target = self._bare_host(key, value, consumer)
            if target is not None:
                out.env[key] = f"${{{self._ref(target, consumer)}.host}}"
                out.references.add(target.name)
                paired[_prefix(key, _HOST_KEY)] = target
                continue
            out.env[key] = self._text(key, value, consumer, own_port, out)
        for prefix, target in paired.items():  # DB_HOST=db goes with DB_PORT=5432
            key = next((k for k in env if k.upper() == f"{prefix}PORT"), "")
            if env.get(key) == str(target.port):
                out.env[key] = f"${{{self._ref(target, consumer)}.port}}"
        for key, value in env.items():
            own = own_port is not None and value == str(own_port) and _PORT_KEY.match(key)
            if own and out.env[key] == value and key.upper()[:-4] not in paired:
                out.env[key] = "${self.port}"  # the service's own listening port
        for key, value in env.items():
            if value and SECRET_KEY.search(key.upper()) and not key.endswith("_FILE"):
                if out.env[key] != value.replace("${", "$${"):
                    continue  # it held references: the secret parts are handled
                known = self.secrets.name_of(value)
                name = known or self.secrets.add(secret_name(consumer, key), value)
                out.env[key] = f"${{secret.{name}}}"
                if known is None:
                    out.notes.append((key, _generated_note(name)))
        return out

    def _bare_host(self, key: str, value: str, consumer: str) -> Target | None:
        target = self.hosts.get(value.strip().lower())
        if target is None or not _HOST_KEY.search(key.upper()):
            return None
        return target

    def _text(self, key: str, value: str, consumer: str, own_port: int | None, out: Rewrite) -> str:
        escaped = value.replace("${", "$${")  # Compose's own `$$` left a literal `${`

        def replace(match: re.Match[str]) -> str:
            if match.group("url"):
                return self._url(match.group("url"), key, consumer, own_port, out)
            target = self.hosts[match.group("host").lower()]
            out.references.add(target.name)
            port = self._port(target, int(match.group("port")), consumer, key, out)
            return f"${{{self._ref(target, consumer)}.host}}:{port}"

        rewritten = self._pattern.sub(replace, escaped)
        if own_port is not None:  # its own address: 0.0.0.0:8000 listens on ${self.port}
            local = "|".join(re.escape(h) for h in LOCAL_HOSTS)
            rewritten = re.sub(
                rf"(?<![\w.-])({local}):{own_port}(?![\w.])", r"\1:${self.port}", rewritten
            )
        return rewritten

    def _url(self, url: str, key: str, consumer: str, own_port: int | None, out: Rewrite) -> str:
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError:
            return url
        host = (parts.hostname or "").lower()
        scheme = parts.scheme.lower()
        if host in LOCAL_HOSTS and own_port is not None and port == own_port:
            return url.replace(f":{own_port}", ":${self.port}", 1)
        target = self.hosts.get(host)
        if target is None:
            return url
        out.references.add(target.name)
        ref = self._ref(target, consumer)
        user = unquote(parts.username) if parts.username is not None else None
        password = unquote(parts.password) if parts.password is not None else None
        rest = url[len(parts.scheme) + 3 + len(parts.netloc) :]
        if self._whole_engine_url(target, scheme, parts.path, parts.query, user, port):
            if password not in (None, target.password) and target.password is not None:
                message = f"its password differs from {target.name}'s: ${{{ref}.url}} has theirs"
                out.notes.append((key, message))
            query = f"?{parts.query}" if parts.query and target.engine == "postgres" else ""
            fragment = f"#{parts.fragment}" if parts.fragment else ""
            return f"${{{ref}.url}}{query}{fragment}"
        same_port = port == target.port or (port is None and target.port in (None, 80))
        if scheme == "http" and target.engine is None and "@" not in parts.netloc and same_port:
            return f"${{{ref}.url}}{rest}"
        auth = ""
        if user is not None:
            auth = parts.netloc.rpartition("@")[0].split(":", 1)[0]
            if password is not None:
                auth += (
                    f":${{secret.{self._url_secret(target, consumer, key, user, password, out)}}}"
                )
            auth += "@"
        elif password is None and target.secret and target.engine == "redis":
            auth = f":${{secret.{target.secret}}}@"
        hostport = f"${{{ref}.host}}:{self._port(target, port, consumer, key, out)}"
        if port is None and target.port is None:
            hostport = f"${{{ref}.host}}"
        return f"{parts.scheme}://{auth}{hostport}{rest}"

    def _whole_engine_url(
        self, t: Target, scheme: str, path: str, query: str, user: str | None, port: int | None
    ) -> bool:
        if port not in (None, t.port):
            return False
        if t.engine == "postgres" and scheme in ("postgres", "postgresql"):
            wanted_user = t.user or "postgres"
            database = path.lstrip("/") or (user or "postgres")
            return (user or "postgres") == wanted_user and database == (t.database or wanted_user)
        if t.engine == "redis" and scheme == "redis":
            return path.strip("/") in ("", "0") and user in (None, "", "default") and not query
        return False

    def _url_secret(
        self, t: Target, consumer: str, key: str, user: str, password: str, out: Rewrite
    ) -> str:
        known = self.secrets.name_of(password)
        if known is not None:
            return known
        if t.secret is not None and (t.engine == "redis" or user == (t.user or "postgres")):
            out.notes.append(
                (key, f"its password differs from {t.name}'s: now ${{secret.{t.secret}}}")
            )
            return t.secret
        name = self.secrets.add(secret_name(consumer, key, "password"), password, generate=False)
        out.notes.append(
            (
                key,
                f"a password for another user of {t.name}: now ${{secret.{name}}}, which you "
                f"give with ENVCTL_SECRET_{name} or --secrets-file",
            )
        )
        return name

    def _port(self, t: Target, port: int | None, consumer: str, key: str, out: Rewrite) -> str:
        if port is None or port == t.port:
            return f"${{{self._ref(t, consumer)}.port}}"
        out.notes.append(
            (
                key,
                f"port {port} of {t.name} is not its first port: kept as a number, which "
                "only the container runtimes keep",
            )
        )
        return str(port)

    @staticmethod
    def _ref(target: Target, consumer: str) -> str:
        return "self" if target.name == consumer else target.name


def _prefix(key: str, suffix: re.Pattern[str]) -> str:
    """``DB_HOST`` → ``DB_``, ``PGHOST`` → ``PG``: what its port variable starts with."""
    return suffix.sub("", key.upper())


def _generated_note(name: str) -> str:
    return (
        f"a literal secret: now ${{secret.{name}}}, generated per environment "
        f"(give a fixed one with ENVCTL_SECRET_{name})"
    )
