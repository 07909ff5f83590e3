"""Each example Compose project, imported and run for real on the local runtime.

`envctl import compose` → `envctl validate` → `envctl up` (real PostgreSQL, Redis and
the project's own Python apps as processes) → GET the app's /healthz through its
endpoint, which answers only once the app reached PostgreSQL and Redis → `envctl down`,
and nothing of the environment is left.
"""

from __future__ import annotations

import json
import shutil
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT, Cli, leftovers

pytestmark = pytest.mark.local

EXAMPLES = ROOT / "examples" / "compose"


def get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as resp:
        assert resp.status == 200, url
        return json.load(resp)


def post(url: str, body: dict[str, Any]) -> Any:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as resp:
        return json.load(resp)


def imported(cli: Cli, name: str, tmp_path: Path) -> Path:
    """The example copied to a scratch dir (the repo stays clean), imported there."""
    project = tmp_path / name
    shutil.copytree(EXAMPLES / name, project)
    done = cli("import", "compose", str(project))
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    blueprint = project / f"{name}.yaml"
    assert blueprint.is_file()
    valid = cli("validate", str(blueprint), "-o", "json")
    assert valid.returncode == 0 and json.loads(valid.stdout)[0]["valid"], valid.stdout
    return blueprint


def up(cli: Cli, blueprint: Path) -> dict[str, Any]:
    done = cli("up", str(blueprint), "-o", "json")
    assert done.returncode == 0, done.stderr
    data: dict[str, Any] = json.loads(done.stdout)
    return data


def down(cli: Cli, env_id: str) -> None:
    done = cli("down", env_id)
    assert done.returncode == 0, done.stderr
    assert cli.live() == []
    assert leftovers(env_id) == []


def test_shop_web_app_reaches_postgres_and_redis(cli: Cli, tmp_path: Path) -> None:
    blueprint = imported(cli, "shop", tmp_path)
    text = blueprint.read_text()
    assert "shop-dev-password" not in text, "the literal password became a secret"
    env = up(cli, blueprint)
    try:
        web = env["services"]["web"]["url"]
        health = get(f"{web}/healthz")
        assert health["postgres"].split(".")[0] == env["services"]["db"]["version"].split(".")[0]
        assert health["redis"] == env["services"]["cache"]["version"]
        products = get(f"{web}/products")
        assert [p["name"] for p in products][:1] == ["Espresso beans 1kg"]
    finally:
        down(cli, env["env"])


def test_jobs_api_and_worker_share_the_queue_and_the_schema(cli: Cli, tmp_path: Path) -> None:
    blueprint = imported(cli, "jobs", tmp_path)
    text = blueprint.read_text()
    assert "jobs-local-db-password" not in text and "jobs-local-queue-password" not in text
    env = up(cli, blueprint)
    try:
        api = env["services"]["api"]["url"]
        health = get(f"{api}/healthz")
        assert health["schema"] is True, "db/init.sql was applied as the data entry's schema"
        assert health["postgres"] and health["queued"] == 0
        job = post(f"{api}/jobs", {"kind": "count", "payload": {"text": "one two three"}})
        deadline = time.monotonic() + 30
        for _ in range(300):  # the worker takes it off the queue and records the result
            found = get(f"{api}/jobs/{job['id']}")
            if found["status"] != "queued" or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert found["status"] == "done" and found["result"]["words"] == 3, found
    finally:
        down(cli, env["env"])


def test_blog_without_its_one_shot_migration(cli: Cli, tmp_path: Path) -> None:
    blueprint = imported(cli, "blog", tmp_path)
    text = blueprint.read_text()
    assert (
        "one-shot jobs are not supported" in text and "migrate" not in text.split("apiVersion")[1]
    )
    for word in ("blog-staging-db-pw", "blog-staging-cache-pw"):
        assert word not in text
    env = up(cli, blueprint)
    try:
        assert set(env["services"]) == {"app", "db", "cache"}
        health = get(f"{env['services']['app']['url']}/healthz")
        assert health["postgres"] and health["redis"] == env["services"]["cache"]["version"]
        assert health["migrated"] is False, "the migrate job was not imported"
    finally:
        down(cli, env["env"])
