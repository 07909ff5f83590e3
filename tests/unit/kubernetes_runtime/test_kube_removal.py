"""Which namespaces `envctl gc` considers: this store's, and any store's past its ttl."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from orchestrator.runtime.kubernetes import labels, removal

NOW = 1_700_000_000.0


def namespace(
    env_id: str, store: str, expires: float | None, managed: bool = True
) -> dict[str, Any]:
    annotations = {labels.ENV_ID: env_id}
    if expires is not None:
        annotations[labels.EXPIRES_AT] = labels.iso_utc(expires)
    ns_labels = {labels.ENV: labels.label_value(env_id), labels.STORE: store}
    if managed:
        ns_labels[labels.MANAGED] = "true"
    return {
        "metadata": {
            "name": labels.namespace_name(env_id),
            "labels": ns_labels,
            "annotations": annotations,
        }
    }


def test_this_stores_namespaces_are_candidates_whatever_their_ttl() -> None:
    found = removal.select_orphans([namespace("mine-1", "ours", NOW + 3600)], "ours", NOW)
    assert found == {"mine-1"}


def test_another_stores_namespace_only_once_its_ttl_passed() -> None:
    namespaces = [
        namespace("theirs-live", "theirs", NOW + 60),
        namespace("theirs-expired", "theirs", NOW - 1),
        namespace("theirs-no-expiry", "theirs", None),
    ]
    assert removal.select_orphans(namespaces, "ours", NOW) == {"theirs-expired"}


def test_namespaces_not_managed_by_envctl_are_never_candidates() -> None:
    stray = namespace("x-1", "ours", NOW - 100, managed=False)
    assert removal.select_orphans([stray], "ours", NOW) == set()


def test_the_env_id_comes_from_the_annotation_over_the_sanitised_label() -> None:
    ns = namespace("Odd Id/1", "ours", NOW)
    assert ns["metadata"]["labels"][labels.ENV] != "Odd Id/1"
    assert removal.select_orphans([ns], "ours", NOW) == {"Odd Id/1"}
    del ns["metadata"]["annotations"][labels.ENV_ID]
    assert removal.env_id_of(ns) == ns["metadata"]["labels"][labels.ENV]


def test_the_work_dir_goes(tmp_path: Path) -> None:
    work = tmp_path / "envctl-x"
    (work / "sub").mkdir(parents=True)
    (work / "sub" / "endpoints.env").write_text("URL=postgresql://u:p@h/db")
    assert removal.remove_work_dir(work) == []
    assert not work.exists()
