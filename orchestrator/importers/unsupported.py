"""Why each Compose key a blueprint does not carry is dropped: one line per key."""

from __future__ import annotations

from orchestrator.blueprint.source import Path as KeyPath

RESTART = "envctl restarts nothing; a crash fails the run"
NETWORKS = "every environment is one private network of its own; dropped"
UNPRIVILEGED = "envctl runs services unprivileged and unconfined; dropped"
ONLY_LIMITS = "only cpu and memory limits carry over (as resources); dropped"
SWARM = "a Swarm setting; dropped"

SERVICE = {
    "restart": RESTART,
    "networks": NETWORKS,
    "network_mode": NETWORKS,
    "secrets": "Compose secrets are files in the container: pass ${secret.NAME} in env instead; "
    "dropped",
    "configs": "Compose configs are files in the container; dropped",
    "privileged": UNPRIVILEGED,
    "cap_add": UNPRIVILEGED,
    "cap_drop": UNPRIVILEGED,
    "security_opt": UNPRIVILEGED,
    "devices": UNPRIVILEGED,
    "device_cgroup_rules": UNPRIVILEGED,
    "sysctls": UNPRIVILEGED,
    "ulimits": UNPRIVILEGED,
    "pid": UNPRIVILEGED,
    "ipc": UNPRIVILEGED,
    "userns_mode": UNPRIVILEGED,
    "cgroup_parent": UNPRIVILEGED,
    "group_add": UNPRIVILEGED,
    "user": "the local runtime runs services as you; dropped",
    "container_name": "envctl names what it runs per environment, so names never collide; "
    "dropped (other services may still use it as a host name)",
    "hostname": "the container's name for itself: other containers cannot resolve it (they "
    "use the service name); dropped",
    "links": "legacy links: now depends_on (their aliases still resolve as host names)",
    "labels": "envctl labels what it creates with its environment id; dropped",
    "logging": "envctl keeps each service's log itself (`envctl logs ENV SERVICE`); dropped",
    "extra_hosts": NETWORKS,
    "dns": NETWORKS,
    "dns_search": NETWORKS,
    "domainname": NETWORKS,
    "mac_address": NETWORKS,
    "stop_grace_period": "envctl gives a service 10s after its stop signal; dropped",
    "extends": "extends is not followed: copy what it brings into this service",
    "scale": "one replica per service; dropped",
    "tmpfs": "dropped",
    "shm_size": ONLY_LIMITS,
    "mem_reservation": ONLY_LIMITS,
    "memswap_limit": ONLY_LIMITS,
    "mem_swappiness": ONLY_LIMITS,
    "cpu_shares": ONLY_LIMITS,
    "cpu_quota": ONLY_LIMITS,
    "cpu_period": ONLY_LIMITS,
    "cpuset": ONLY_LIMITS,
    "cpu_count": ONLY_LIMITS,
    "cpu_percent": ONLY_LIMITS,
    "pids_limit": ONLY_LIMITS,
    "blkio_config": ONLY_LIMITS,
    "oom_kill_disable": ONLY_LIMITS,
    "oom_score_adj": ONLY_LIMITS,
    "develop": "`compose watch` has no envctl counterpart; dropped",
}
DEPLOY = {
    "replicas": "one replica per service; dropped",
    "restart_policy": RESTART,
    "mode": SWARM,
    "placement": SWARM,
    "update_config": SWARM,
    "rollback_config": SWARM,
    "endpoint_mode": SWARM,
    "labels": SWARM,
}
RESOURCES = {
    "reservations": "envctl takes the limits as a service's resources; reservations dropped",
}
TOP_LEVEL = {
    "networks": NETWORKS,
    "secrets": "Compose secrets are files in containers: blueprints have `secrets:` of their "
    "own (${secret.NAME}); dropped",
    "configs": "Compose configs are files in containers; dropped",
    "include": "include is not followed: import each file on its own",
}
EXTENSION = "an extension field: not carried (what anchors merged from it is)"


def message(path: KeyPath) -> str:
    """The note for a key the blueprint does not carry, by where it sits."""
    key = str(path[-1])
    if key.startswith("x-"):
        return EXTENSION
    if len(path) == 1:
        return TOP_LEVEL.get(key, "not a Compose key envctl knows; dropped")
    if "resources" in path:
        return RESOURCES.get(key, ONLY_LIMITS)
    if "deploy" in path:
        return DEPLOY.get(key, SWARM)
    return SERVICE.get(key, "not converted")
