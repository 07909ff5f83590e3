"""Environment values that name another service become blueprint references.

In Compose, services reach each other by name: ``postgres://u:p@db:5432/app``,
``redis://cache:6379/0``, ``http://api:8000``, ``db:5432``, ``DB_HOST=db``, libpq's
``host=db port=5432 …``, ``jdbc:postgresql://db:5432/app``. In a blueprint the address
is only known when the environment starts, so the values become ``${db.url}`` (when the
value is the engine's whole URL: its user, database and password), else
``${db.host}``/``${db.port}`` inside the rest of the value. Passwords in URLs (user info
or ``password=``) and DSNs become ``${secret.NAME}``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

from orchestrator.importers import shell_values
from orchestrator.importers.addresses import URL, alternation, is_local
from orchestrator.importers.naming import secret_name
from orchestrator.importers.secret_book import SecretBook

_HOST_KEY = re.compile(r"(HOST|HOSTNAME|SERVER|ADDR|ADDRESS)$")
_PORT_KEY = re.compile(r"^(PORT|[A-Z0-9_]*_PORT)$")
# A name that ends in the secret word: TOKEN_TTL and PASSWORD_MIN_LENGTH are settings.
SECRET_KEY = re.compile(
    r"(^|_)(PASSWORD|PASSWD|PASS|SECRET|TOKEN|API_?KEY|SECRET_KEY|PRIVATE_KEY"
    r"|SECRET_ACCESS_KEY|CREDENTIALS?)$"
)
_NUMBER = re.compile(r"^[0-9]+(\.[0-9]+)?$")
# libpq's keyword/value connection string: `host=db port=5432 dbname=app password='x y'`.
_DSN_PAIR = r"([A-Za-z_]+)\s*=\s*('(?:[^'\\]|\\.)*'|[^\s']*)"
_DSN = re.compile(rf"\s*{_DSN_PAIR}(?:\s+{_DSN_PAIR})*\s*")
_DSN_PAIRS = re.compile(_DSN_PAIR)
_JDBC = "jdbc:"


def is_secret_name(key: str, value: str) -> bool:
    """A variable whose literal value is a secret: by its name, and never a number (a
    SESSION_TOKEN of 1234 is a setting someone named badly, not a credential)."""
    upper = key.upper()
    return (
        bool(SECRET_KEY.search(upper))
        and not upper.endswith("_FILE")
        and _NUMBER.match(value.strip()) is None
    )


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
        names = alternation(tuple(self.hosts))
        host_port = rf"(?<![\w.@/:-])(?P<host>{names}):(?P<port>\d{{1,5}})(?![\w.])"
        self._pattern = re.compile(rf"(?P<url>{URL})" + (f"|{host_port}" if names else ""), re.I)

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
            dsn = self._keyword_dsn(key, value.replace("${", "$${"), consumer, out)
            if dsn is None:
                dsn = self._text(key, value, consumer, own_port, out)
            out.env[key] = dsn
        for prefix, target in paired.items():  # DB_HOST=db goes with DB_PORT=5432
            key = next((k for k in env if k.upper() == f"{prefix}PORT"), "")
            if env.get(key) == str(target.port):
                out.env[key] = f"${{{self._ref(target, consumer)}.port}}"
        for key, value in env.items():
            own = own_port is not None and value == str(own_port) and _PORT_KEY.match(key)
            if own and out.env[key] == value and key.upper()[:-4] not in paired:
                out.env[key] = "${self.port}"  # the service's own listening port
        for key, value in env.items():
            if value and is_secret_name(key, value):
                if out.env[key] != value.replace("${", "$${"):
                    continue  # it held references: the secret parts are handled
                known = self.secrets.name_of(value)
                if known is None and shell_values.names_in(value):
                    continue  # the shell's: it becomes ${env.NAME}, the value the user has
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
                jdbc = match.string[: match.start()].lower().endswith(_JDBC)
                return self._url(match.group("url"), key, consumer, own_port, out, jdbc=jdbc)
            target = self.hosts[match.group("host").lower()]
            out.references.add(target.name)
            port = self._port(target, int(match.group("port")), consumer, key, out)
            return f"${{{self._ref(target, consumer)}.host}}:{port}"

        rewritten = self._pattern.sub(replace, escaped)
        if own_port is not None:  # its own address: 0.0.0.0:8000 listens on ${self.port}
            local = alternation()
            rewritten = re.sub(
                rf"(?<![\w.-])({local}):{own_port}(?![\w.])", r"\1:${self.port}", rewritten
            )
        return rewritten

    def _url(
        self,
        url: str,
        key: str,
        consumer: str,
        own_port: int | None,
        out: Rewrite,
        *,
        jdbc: bool = False,
    ) -> str:
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError:
            return url
        host = (parts.hostname or "").lower()
        scheme = parts.scheme.lower()
        if is_local(host) and own_port is not None and port == own_port:
            return url.replace(f":{own_port}", ":${self.port}", 1)
        target = self.hosts.get(host)
        if target is None:
            return url
        out.references.add(target.name)
        ref = self._ref(target, consumer)
        user = unquote(parts.username) if parts.username is not None else None
        password = unquote(parts.password) if parts.password is not None else None
        rest = url[len(parts.scheme) + 3 + len(parts.netloc) :]
        query = parts.query
        if query:  # JDBC's ?user=u&password=p: credentials in the query
            query = self._query_password(target, consumer, key, user, query, out)
            rest = rest.replace(f"?{parts.query}", f"?{query}", 1)
        # A JDBC URL takes its credentials in the query, never as ${db.url}'s user info.
        whole = self._whole_engine_url(target, scheme, parts.path, parts.query, user, port)
        if whole and not jdbc:
            if password not in (None, target.password) and target.password is not None:
                message = f"its password differs from {target.name}'s: ${{{ref}.url}} has theirs"
                out.notes.append((key, message))
            query = f"?{query}" if query and target.engine == "postgres" else ""
            fragment = f"#{parts.fragment}" if parts.fragment else ""
            return f"${{{ref}.url}}{query}{fragment}"
        same_port = port == target.port or (port is None and target.port in (None, 80))
        plain = scheme == "http" and target.engine is None and "@" not in parts.netloc
        if plain and same_port and not jdbc:
            return f"${{{ref}.url}}{rest}"
        auth = ""
        if user is not None:
            auth = parts.netloc.rpartition("@")[0].split(":", 1)[0]
            if password is not None:
                auth += f":{self._password(target, consumer, key, user, password, out)}"
            auth += "@"
        elif password is None and target.secret and target.engine == "redis":
            auth = f":${{secret.{target.secret}}}@"
        hostport = f"${{{ref}.host}}:{self._port(target, port, consumer, key, out)}"
        if port is None and target.port is None:
            hostport = f"${{{ref}.host}}"
        return f"{parts.scheme}://{auth}{hostport}{rest}"

    def _query_password(
        self, t: Target, consumer: str, key: str, user: str | None, query: str, out: Rewrite
    ) -> str:
        """A URL's query with its ``password=`` a secret, for ``user=`` (else the URL's)."""
        query_user = re.search(r"(?:^|&)user=([^&]*)", query, re.IGNORECASE)
        name = unquote(query_user.group(1)) if query_user else user

        def secret(match: re.Match[str]) -> str:
            password = unquote(match.group(2))
            if not password or password.startswith("$"):
                return match.group(0)
            user_of = name or (t.user or "postgres")
            return match.group(1) + self._password(t, consumer, key, user_of, password, out)

        return re.sub(r"((?:^|&)password=)([^&]*)", secret, query, flags=re.IGNORECASE)

    def _keyword_dsn(self, key: str, value: str, consumer: str, out: Rewrite) -> str | None:
        """libpq's ``host=db port=5432 user=u password=p``, to a service: its host and port
        as references, its password a secret; None when ``value`` is no such DSN."""
        if not _DSN.fullmatch(value):
            return None
        matches = list(_DSN_PAIRS.finditer(value))
        pairs = {m.group(1).lower(): m for m in matches}  # as libpq: the last one counts
        host = pairs.get("host")
        target = self.hosts.get(_unquoted(host.group(2)).lower()) if host else None
        if target is None or len(pairs) < 2:
            return None
        out.references.add(target.name)
        ref = self._ref(target, consumer)
        user = _unquoted(pairs["user"].group(2)) if "user" in pairs else None
        replaced: dict[str, str] = {"host": f"${{{ref}.host}}"}
        port = pairs.get("port")
        if port is not None and port.group(2).isdigit():
            replaced["port"] = self._port(target, int(port.group(2)), consumer, key, out)
        password = pairs.get("password")
        if password is not None:
            text = _unquoted(password.group(2))
            if text and not text.startswith("$"):
                user_of = user or (target.user or "postgres")
                found = self._password(target, consumer, key, user_of, text, out)
                quote = "'" if password.group(2).startswith("'") else ""
                replaced["password"] = f"{quote}{found}{quote}"
        out_text, last = [], 0
        for match in matches:
            if match.group(1).lower() in replaced:
                out_text += [value[last : match.start(2)], replaced[match.group(1).lower()]]
                last = match.end(2)
        return "".join(out_text) + value[last:]

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

    def _password(
        self, t: Target, consumer: str, key: str, user: str, password: str, out: Rewrite
    ) -> str:
        """What a password for ``user`` of ``t`` is written as: its secret's reference, or
        the shell's marker (it becomes ${env.NAME}) when it is no secret of the file's."""
        known = self.secrets.name_of(password)
        if known is None and shell_values.names_in(password):
            return password
        return f"${{secret.{known or self._secret_for(t, consumer, key, user, password, out)}}}"

    def _secret_for(
        self, t: Target, consumer: str, key: str, user: str, password: str, out: Rewrite
    ) -> str:
        """The secret for a password no secret has yet: the engine's, for its own user
        (with a note: the file gave two), else a new one the user gives."""
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


def _unquoted(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] == "'":
        return re.sub(r"\\(.)", r"\1", value[1:-1])
    return value


def _prefix(key: str, suffix: re.Pattern[str]) -> str:
    """``DB_HOST`` → ``DB_``, ``PGHOST`` → ``PG``: what its port variable starts with."""
    return suffix.sub("", key.upper())


def _generated_note(name: str) -> str:
    return (
        f"a literal secret: now ${{secret.{name}}}, generated per environment "
        f"(give a fixed one with ENVCTL_SECRET_{name})"
    )
