"""The objects an environment is made of, as the API will receive them."""

from __future__ import annotations

import base64
import json
from pathlib import Path

from orchestrator.blueprint.loader import loads
from orchestrator.blueprint.model import Engine, Resources
from orchestrator.links import PROXY_SERVICE, proxy_service
from orchestrator.runtime.base import ServiceSpec
from orchestrator.runtime.kubernetes import labels, manifests, workloads
from orchestrator.runtime.kubernetes.environment import Cluster, Environment, service_ports

SECRET = "s3cret-value-never-in-a-pod-spec"
BLUEPRINT = f"""
apiVersion: envctl/v1
kind: Blueprint
metadata: {{name: shop, owner: "Payments Team <pay@example.com>", tier: critical}}
services:
  db:
    image: "postgres:15"
    engine: postgres
    resources: {{cpu: "2", memory: 1Gi, storage: 2Gi}}
    env: {{POSTGRES_PASSWORD: "{SECRET}", PGDATA: /pg/data}}
  cache: {{image: "redis:7.0", engine: redis, env: {{REDIS_PASSWORD: "{SECRET}"}}}}
  app:
    image: "orders:1.42.0"
    ports: [8000, 9000]
    env: {{TOKEN: "{SECRET}"}}
    kubernetes: {{command: "python3 /app/orders_app.py --port 8000"}}
"""
LOADED = loads(BLUEPRINT, "shop.yaml")
COMMON = {labels.ENV: "shop-abc123", labels.MANAGED: "true"}


def environment() -> Environment:
    state = Environment("envctl-shop-abc123", "shop-abc123", dict(COMMON), Cluster(True, True))
    for name, svc in LOADED.model.services.items():
        state.objects[name] = labels.object_name(name)
        state.ports[name] = service_ports(svc)
    return state


def spec(name: str) -> ServiceSpec:
    svc = LOADED.model.services[name]
    command = svc.kubernetes.command if svc.kubernetes else None
    return ServiceSpec(name, svc, dict(svc.env), command, Path())


def bodies(name: str) -> dict[str, dict]:  # type: ignore[type-arg]
    planned = workloads.plan(spec(name), environment())
    return {body["kind"]: body for _, body in planned.objects}


def test_the_environment_goes_in_a_secret_and_nowhere_else() -> None:
    for name in ("db", "cache", "app"):
        objects = bodies(name)
        secret = objects.pop("Secret")
        decoded = {k: base64.b64decode(v).decode() for k, v in secret["data"].items()}
        assert SECRET in decoded.values()
        assert SECRET not in json.dumps(objects), f"{name}: a secret leaked into its workload"
        container = next(iter(objects.values()))["spec"]["template"]["spec"]["containers"][0]
        assert container["envFrom"] == [{"secretRef": {"name": secret["metadata"]["name"]}}]
        assert "env" not in container


def test_stateful_engines_are_statefulsets_with_an_empty_dir_for_their_data() -> None:
    db = bodies("db")["StatefulSet"]
    pod = db["spec"]["template"]["spec"]
    assert pod["volumes"] == [{"name": "data", "emptyDir": {"sizeLimit": "2048Mi"}}]
    assert pod["containers"][0]["volumeMounts"][0]["mountPath"] == "/pg/data", "PGDATA wins"
    cache = bodies("cache")["StatefulSet"]
    assert cache["spec"]["template"]["spec"]["containers"][0]["volumeMounts"][0]["mountPath"] == (
        "/data"
    )
    assert "Deployment" in bodies("app") and "StatefulSet" not in bodies("app")
    assert manifests.stateful(Engine.postgres) and not manifests.stateful(None)


def test_pods_are_labelled_selected_and_kept_apart_from_service_links() -> None:
    app = bodies("app")["Deployment"]
    template = app["spec"]["template"]
    assert app["spec"]["selector"]["matchLabels"] == {
        labels.ENV: "shop-abc123",
        labels.SERVICE: "app",
    }
    assert template["metadata"]["labels"][labels.ENV] == "shop-abc123"
    assert template["metadata"]["labels"][labels.ROLE] == "service"
    pod = template["spec"]
    assert pod["enableServiceLinks"] is False, "no APP_PORT=tcp://… from Kubernetes"
    assert pod["automountServiceAccountToken"] is False
    container = pod["containers"][0]
    assert container["imagePullPolicy"] == "IfNotPresent"
    assert container["args"] == ["python3", "/app/orders_app.py", "--port", "8000"]
    assert "command" not in container, "the image's ENTRYPOINT stays, as on docker"
    assert container["readinessProbe"]["tcpSocket"] == {"port": 8000}
    assert [p["containerPort"] for p in container["ports"]] == [8000, 9000]


def test_redis_gets_its_password_as_an_option_expanded_in_the_container() -> None:
    container = bodies("cache")["StatefulSet"]["spec"]["template"]["spec"]["containers"][0]
    assert container["args"] == ["sh", "-c", 'exec redis-server --requirepass "$REDIS_PASSWORD"']
    assert container["readinessProbe"]["tcpSocket"] == {"port": 6379}, "the engine's port"


def test_resources_become_limits_with_a_tenth_of_the_cpu_requested() -> None:
    container = bodies("db")["StatefulSet"]["spec"]["template"]["spec"]["containers"][0]
    assert container["resources"] == {
        "limits": {"cpu": "2000m", "memory": "1024Mi"},
        "requests": {"cpu": "200m", "memory": "1024Mi"},
    }
    app = bodies("app")["Deployment"]["spec"]["template"]["spec"]["containers"][0]
    assert "resources" not in app, "unstated resources come from the LimitRange"


def test_the_quota_sums_every_container_with_headroom() -> None:
    containers = [manifests.container_resources(Resources(cpu=1.0, memory=512 * 2**20))] * 2
    containers.append(manifests.ContainerResources())  # the LimitRange's defaults
    hard = manifests.resource_quota(COMMON, containers)["spec"]["hard"]
    d = manifests.DEFAULTS
    assert d.limit_cpu is not None and d.limit_memory is not None
    assert hard["limits.cpu"] == manifests.cpu_quantity((2 * 1.0 + d.limit_cpu) * 1.25)
    assert hard["limits.memory"] == f"{(2 * 512 + d.limit_memory // 2**20) * 5 // 4}Mi"
    assert hard["requests.cpu"] == manifests.cpu_quantity((2 * 0.1 + 0.05) * 1.25)
    assert hard["pods"] == "6"


def test_the_limit_range_gives_defaults_to_containers_without_resources() -> None:
    [limit] = manifests.limit_range(COMMON)["spec"]["limits"]
    assert limit["type"] == "Container"
    assert set(limit["default"]) == {"cpu", "memory"} == set(limit["defaultRequest"])


def test_the_network_policy_admits_only_pods_of_the_same_namespace() -> None:
    policy = manifests.isolation_policy(COMMON)
    assert policy["spec"] == {
        "podSelector": {},
        "policyTypes": ["Ingress"],
        "ingress": [{"from": [{"podSelector": {}}]}],
    }
    assert policy["metadata"]["labels"][labels.ENV] == "shop-abc123"


def test_services_select_their_pods_on_every_declared_port() -> None:
    body = manifests.service("app", "app", [8000, 9000], COMMON)
    assert body["spec"]["selector"] == {labels.ENV: "shop-abc123", labels.SERVICE: "app"}
    assert [(p["port"], p["targetPort"]) for p in body["spec"]["ports"]] == [
        (8000, 8000),
        (9000, 9000),
    ]


def test_the_namespace_carries_labels_and_annotations() -> None:
    body = manifests.namespace("envctl-x", {labels.ENV: "x"}, {labels.EXPIRES_AT: "t"})
    assert body["metadata"] == {
        "name": "envctl-x",
        "labels": {labels.ENV: "x"},
        "annotations": {labels.EXPIRES_AT: "t"},
    }


def test_the_proxy_runs_from_envctls_image_with_its_config_from_a_config_map() -> None:
    state = environment()
    state.objects[PROXY_SERVICE] = PROXY_SERVICE
    state.ports[PROXY_SERVICE] = [8474, 10001]
    service = proxy_service(Path("/w/proxy.json"))
    planned = workloads.plan(
        ServiceSpec(PROXY_SERVICE, service, {}, None, Path()), state, '{"api": "0.0.0.0:8474"}'
    )
    kinds = [body["kind"] for _, body in planned.objects]
    assert kinds == ["ConfigMap", "Deployment"], "no Secret: the proxy has no environment"
    config_map = planned.objects[0][1]
    assert json.loads(config_map["data"]["proxy.json"]) == {"api": "0.0.0.0:8474"}
    pod = planned.objects[1][1]["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert container["image"].startswith("envctl/envctl:")
    assert container["args"][-2:] == ["--config", "/etc/envctl/proxy.json"]
    assert {v["name"] for v in pod["volumes"]} == {"config", "events"}
    assert planned.workload_path.endswith("/deployments/envctl-proxy")


def test_a_job_is_never_retried_and_has_a_deadline() -> None:
    template = manifests.PodTemplate("suite-x", "suite", "img:1", "suite", restart="Never")
    job = manifests.job("suite-x", template, COMMON, 90.5)
    assert job["spec"]["backoffLimit"] == 0
    assert job["spec"]["activeDeadlineSeconds"] == 91
    assert job["spec"]["template"]["spec"]["restartPolicy"] == "Never"


def test_labels_are_sanitised_and_the_full_values_are_annotations() -> None:
    from orchestrator.runtime.base import EnvironmentContext
    from orchestrator.runtime.kubernetes import environment as env_module

    env = EnvironmentContext(
        "shop-abc123", "shop", "Payments Team <pay@example.com>", Path("/w"), Path("/r")
    )
    common = env_module.common_labels(env, "0123456789abcdef", "critical")
    assert common[labels.OWNER] == "Payments-Team-pay-example.com"
    assert common[labels.MANAGED] == "true" and common[labels.TIER] == "critical"
    assert common[labels.STORE] == "0123456789abcdef"
    notes = env_module.namespace_annotations(env, ttl=3600)
    assert notes[labels.OWNER] == "Payments Team <pay@example.com>"
    assert notes[labels.ENV_ID] == "shop-abc123"
    expires = labels.parse_iso(notes[labels.EXPIRES_AT])
    assert expires is not None
    import time

    assert abs(expires - (time.time() + 3600)) < 5
    assert "@" in notes[labels.CREATED_BY], "pid:start@host of the creating envctl"
