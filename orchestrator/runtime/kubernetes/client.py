"""Talking to the Kubernetes API: the official client, imported here on first use only.

envctl takes from the client what it does well — kubeconfig and in-cluster config (auth
plugins, TLS, token refresh) and the websocket streams (port-forward, exec) — and sends
plain JSON for everything else: manifests are dicts (``manifests.py``) and answers are
the API's own JSON, so nothing waits on the generated models (slow to build for every
read, and strict about fields a newer server may add).

This is the one boundary for the client's errors: an unreachable API, a refused
credential or a rejected request becomes ``RuntimeUnavailable`` or ``ApiError`` (one of
those) with a hint, never urllib3's nested tracebacks.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from orchestrator.exceptions import RuntimeUnavailable, first_line
from orchestrator.settings import Settings

INSTALL_HINT = "install the Kubernetes extra: pip install 'envctl[kubernetes]'"
CLUSTER_HINT = (
    "check KUBECONFIG (or ~/.kube/config) and ENVCTL_KUBE_CONTEXT, and that the cluster "
    "answers (`kubectl cluster-info`); or use --runtime docker"
)
REQUEST_TIMEOUT = 30.0  # seconds; a request the API does not answer in this is a fault
PING_TIMEOUT = 10.0


class NotConfigured(RuntimeUnavailable):
    """No kubeconfig and not in a pod: there is no cluster to talk to at all."""


class ApiError(RuntimeUnavailable):
    """The API answered, and not with success: ``status`` is its HTTP status."""

    def __init__(self, status: int, reason: str, message: str, *, hint: str | None = None) -> None:
        super().__init__(
            f"the Kubernetes API refused: {message}" if message else f"HTTP {status} {reason}",
            hint=hint or CLUSTER_HINT,
        )
        self.status = status
        self.reason = reason
        self.detail = message

    @property
    def not_found(self) -> bool:
        return self.status == 404

    @property
    def conflict(self) -> bool:
        return self.status == 409


def sdk() -> Any:
    try:
        import kubernetes
    except ImportError as exc:
        raise RuntimeUnavailable(
            "the kubernetes runtime needs the Kubernetes client for Python", hint=INSTALL_HINT
        ) from exc
    return kubernetes


@dataclass
class Kube:
    """An API client that has answered, with JSON verbs over it."""

    api_client: Any  # kubernetes.client.ApiClient
    host: str
    _core: Any = None
    _stream_lock: threading.Lock = field(default_factory=threading.Lock)

    def websocket(self, kind: str, pod: str, namespace: str, **options: Any) -> Any:
        """A new websocket stream to ``pod``: ``kind`` is 'portforward' (``ports=…``)
        or 'exec' (``command=[…]``, …); the client's PortForward or WSClient.

        The client's stream helpers swap the ApiClient's ``call_api`` while they connect,
        which is not thread-safe: a request of another thread in that window goes out as
        a websocket ("Missing required parameter `ports`"). So streams get an ApiClient
        of their own, and connect one at a time (some milliseconds each).
        """
        from kubernetes import stream

        with self._stream_lock:
            if self._core is None:
                lib = sdk()
                self._core = lib.client.CoreV1Api(
                    lib.client.ApiClient(self.api_client.configuration)
                )
            if kind == "portforward":
                method, helper = (
                    self._core.connect_get_namespaced_pod_portforward,
                    stream.portforward,
                )
            else:
                method, helper = self._core.connect_get_namespaced_pod_exec, stream.stream
            return helper(method, pod, namespace, **options)

    def request(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        query: Mapping[str, Any] | None = None,
        timeout: float = REQUEST_TIMEOUT,
        content_type: str = "application/json",
    ) -> Any:
        """The decoded JSON answer (None when empty); ``ApiError`` for any other status."""
        response = self._send(method, path, body, query, timeout, content_type)
        data = response.read()
        if not 200 <= response.status <= 299:
            raise api_error(response.status, response.reason or "", data)
        return json.loads(data) if data else None

    def text(self, path: str, query: Mapping[str, Any], timeout: float = REQUEST_TIMEOUT) -> str:
        """A GET answered with text (logs)."""
        response = self._send("GET", path, None, query, timeout, "application/json", "*/*")
        data = response.read()
        if not 200 <= response.status <= 299:
            raise api_error(response.status, response.reason or "", data)
        return bytes(data or b"").decode("utf-8", errors="replace")

    def stream(self, path: str, query: Mapping[str, Any], timeout: float) -> Any:
        """The raw urllib3 response of a GET, body unread (followed logs)."""
        response = self._send("GET", path, None, query, timeout, "application/json", "*/*")
        if not 200 <= response.status <= 299:
            raise api_error(response.status, response.reason or "", response.read())
        return response.response

    def _send(
        self,
        method: str,
        path: str,
        body: Any,
        query: Mapping[str, Any] | None,
        timeout: float,
        content_type: str,
        accept: str = "application/json",
    ) -> Any:
        headers = {"Accept": accept, "Content-Type": content_type}
        params = [(k, v) for k, v in (query or {}).items() if v is not None]
        try:
            method, url, headers, body, post = self.api_client.param_serialize(
                method,
                path,
                query_params=params,
                header_params=headers,
                body=body,
                auth_settings=["BearerToken"],
            )
            return self.api_client.call_api(
                method, url, headers, body, post, _request_timeout=timeout
            )
        except transport_errors() as exc:
            raise unreachable(self.host, exc) from None

    # verbs ---------------------------------------------------------------------------

    def get(self, path: str, **query: Any) -> Any:
        """The object, or None when there is none."""
        try:
            return self.request("GET", path, query=query)
        except ApiError as exc:
            if exc.not_found:
                return None
            raise

    def list(self, path: str, **query: Any) -> list[dict[str, Any]]:
        answer = self.request("GET", path, query=query)
        return list((answer or {}).get("items") or [])

    def create(self, path: str, body: Mapping[str, Any]) -> dict[str, Any]:
        created: dict[str, Any] = self.request("POST", path, body=body)
        return created

    def patch(self, path: str, body: Mapping[str, Any]) -> Any:
        return self.request("PATCH", path, body=body, content_type="application/merge-patch+json")

    def delete(self, path: str, **query: Any) -> bool:
        """Delete (in the background); False when it was already gone."""
        body = {"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": "Background"}
        try:
            self.request("DELETE", path, body=body, query=query)
        except ApiError as exc:
            if exc.not_found:
                return False
            raise
        return True


def transport_errors() -> tuple[type[BaseException], ...]:
    """What the client raises when the API is out of reach (or a credential plugin
    fails): every one of them becomes ``RuntimeUnavailable`` at this boundary."""
    import urllib3

    lib = sdk()
    return (
        urllib3.exceptions.HTTPError,
        OSError,
        lib.client.exceptions.ApiException,  # the client's wrapper of TLS errors
        lib.config.ConfigException,  # an exec/auth-provider plugin that failed
    )


def connect(settings: Settings) -> Kube:
    """A client for the configured cluster that has answered, or ``RuntimeUnavailable``."""
    lib = sdk()
    configuration = lib.client.Configuration()
    where = _load_config(lib, settings, configuration)
    # No urllib3 retries: an unreachable API fails at once, with our message instead of
    # three logged "Retrying" warnings; the callers that poll tolerate one failed read.
    configuration.retries = False
    kube = Kube(lib.client.ApiClient(configuration), str(configuration.host))
    try:
        kube.request("GET", "/version", timeout=PING_TIMEOUT)
    except ApiError as exc:
        if exc.status in (401, 403):
            raise RuntimeUnavailable(
                f"the Kubernetes API at {kube.host} refused envctl's credentials from "
                f"{where} (HTTP {exc.status})",
                hint="check the user of the kubeconfig context, or its token's expiry",
            ) from None
        raise
    return kube


def _load_config(lib: Any, settings: Settings, configuration: Any) -> str:
    """Fill ``configuration`` from a kubeconfig, else in-cluster; say which."""
    environ = settings.environ
    home = Path(environ.get("HOME") or Path.home())
    listed = environ.get("KUBECONFIG") or ""
    files = [p for p in listed.split(os.pathsep) if p] or [str(home / ".kube" / "config")]
    if any(Path(p).expanduser().exists() for p in files):
        config_file = os.pathsep.join(files)
        try:
            lib.config.load_kube_config(
                config_file=config_file,
                context=settings.kube_context,
                client_configuration=configuration,
                persist_config=False,
            )
        except (lib.config.ConfigException, OSError, *_MALFORMED) as exc:
            raise RuntimeUnavailable(
                f"cannot use the kubeconfig {config_file!r}: {first_line(exc)}",
                hint=_contexts_hint(lib, config_file, settings.kube_context),
            ) from None
        context = f", context {settings.kube_context!r}" if settings.kube_context else ""
        return f"kubeconfig {config_file!r}{context}"
    if environ.get("KUBERNETES_SERVICE_HOST"):
        incluster_config = lib.config.incluster_config
        loader = incluster_config.InClusterConfigLoader(
            token_filename=incluster_config.SERVICE_TOKEN_FILENAME,
            cert_filename=incluster_config.SERVICE_CERT_FILENAME,
            environ=environ,
        )
        try:
            loader.load_and_set(configuration)
        except lib.config.ConfigException as exc:
            raise RuntimeUnavailable(
                f"cannot use the in-cluster service account: {first_line(exc)}",
                hint="is a service account token mounted into this pod?",
            ) from None
        return "the pod's service account"
    raise NotConfigured(
        "no Kubernetes configuration: KUBECONFIG is not set, ~/.kube/config does not "
        "exist, and envctl does not run in a pod",
        hint="export KUBECONFIG=/path/to/kubeconfig, or use --runtime docker",
    )


# What a malformed kubeconfig makes the loader raise: YAML that does not parse, or a
# document of the wrong shape (a list where a mapping belongs …).
_MALFORMED: tuple[type[Exception], ...] = (
    yaml.YAMLError,
    ValueError,
    TypeError,
    KeyError,
    AttributeError,
)


def _contexts_hint(lib: Any, config_file: str, wanted: str | None) -> str:
    try:
        contexts, _ = lib.config.list_kube_config_contexts(config_file)
    except Exception:  # the file itself is broken: the message said so
        return "check the kubeconfig file"
    names = ", ".join(sorted(str(c.get("name")) for c in contexts or [])) or "(none)"
    if wanted:
        return f"ENVCTL_KUBE_CONTEXT={wanted!r}; contexts in the kubeconfig: {names}"
    return f"contexts in the kubeconfig: {names}; choose one with ENVCTL_KUBE_CONTEXT"


def api_error(status: int, reason: str, data: bytes | None) -> ApiError:
    """An API answer that is not a success, with the message of its ``Status`` object."""
    message = ""
    if data:
        try:
            decoded = json.loads(data)
        except ValueError:
            message = data.decode("utf-8", errors="replace").strip()[:300]
        else:
            if isinstance(decoded, dict):
                message = str(decoded.get("message") or "")
    return ApiError(status, reason, message or f"HTTP {status} {reason}".strip())


def unreachable(host: str, exc: BaseException) -> RuntimeUnavailable:
    return RuntimeUnavailable(
        f"cannot reach the Kubernetes API at {host}: {short_reason(exc)}", hint=CLUSTER_HINT
    )


def short_reason(exc: BaseException) -> str:
    """What a person can act on, out of urllib3's nested exception texts."""
    text = str(getattr(exc, "reason", None) or exc)
    lowered = text.lower()
    if "connection refused" in lowered:
        return "connection refused (is the cluster up?)"
    if "name or service not known" in lowered or "nodename nor servname" in lowered:
        return "its host name does not resolve"
    if "timed out" in lowered or "timeout" in lowered:
        return "timed out"
    if "certificate" in lowered or "ssl" in lowered:
        return f"TLS failed ({first_line(exc)[:200]})"
    return first_line(exc)[:300]
