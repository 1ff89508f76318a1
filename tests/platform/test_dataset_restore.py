"""A retired dataset can be brought back (`POST /v1/datasets/{name}/restore`, `silkroute
dataset restore`), as a removed node can (`POST /v1/sites/{site}/restore`): new jobs may read
it again and its copies, by either record, count for placement again, also on another server
on the same database. Audited like the retire; refused in one line where it does not apply.
Real server, store (SQLite and PostgreSQL), live loop and local back end."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from silkroute.audit.log import load_public_key, verify
from silkroute.control import submits
from silkroute.control.auth import Principal, Role
from silkroute.control.boot import open_platform
from silkroute.control.errors import ServiceError
from silkroute.control.governance import register_dataset, restore_dataset, retire_dataset
from silkroute.control.service import add_site, create_tenant
from silkroute.control.submits import prepare
from silkroute.model.cluster import SiteSpec
from silkroute.model.tenant import TenantSpec
from silkroute.store.audit import SqlAuditStore
from tests.platform.conftest import Api
from tests.platform.test_cli import cli
from tests.platform.test_dataset_copies import SG_NEWS, dataset_audit, register, shown
from tests.platform.test_dataset_retire import listed, retire
from tests.platform.test_node_lifecycle import operator_token
from tests.platform.test_site_copies import copies_by_site
from tests.platform.test_site_update import ONE_A800, ran_at, site, wait_for_book


def restore(api: Api, token: str, name: str) -> Any:
    return api.client.post(f"/v1/datasets/{name}/restore", headers=api.as_(token))


def test_a_restored_dataset_is_read_again_and_its_copies_draw_work_again(api: Api) -> None:
    # Both records put the copy at the dearer site: data locality counts before price.
    api.add_sites([site("alpha", 1.0), site("beta", 3.0, datasets=["sg-news"])])
    token = api.tenant("acme")
    register(api, token, {**SG_NEWS, "sites": ["beta"]})
    assert retire(api, token, "sg-news").status_code == 200
    wait_for_book(api, "beta", "datasets", frozenset())
    assert api.submit(token, command="true", datasets=["sg-news"]).status_code == 422
    got = restore(api, token, "sg-news")
    assert got.status_code == 200, got.text
    back = got.json()
    assert (back["retired_at"], back["retired_by"]) == (None, None)
    assert back["copies"] == [{"site": "beta", "recorded_by": ["site", "dataset"]}]
    assert shown(api, token, "sg-news") == back
    assert listed(api, token) == ["sg-news"]
    assert copies_by_site(api, token) == {"alpha": [], "beta": [("sg-news", ("site", "dataset"))]}
    wait_for_book(api, "beta", "datasets", frozenset({"sg-news"}))
    assert ran_at(api, token, **ONE_A800, datasets=["sg-news"]) == "beta"
    records = dataset_audit(api, "sg-news")
    assert [r["action"] for r in records] == ["dataset add", "dataset retire", "dataset restore"]
    restored = records[-1]
    assert restored["actor"] == "tenant:acme" and restored["sites"] == ["beta"]
    assert restored["retired_by"] == "tenant:acme" and isinstance(restored["retired_at"], float)
    with api.platform.store.session() as session:
        verify(SqlAuditStore(session), load_public_key(api.data_dir / "audit.key.pub"))
    # Retired again by someone else, the record names the latest retire (the log keeps both).
    assert retire(api, operator_token(api), "sg-news").status_code == 200
    again = shown(api, token, "sg-news")
    assert again["retired_by"] == "operator" and again["retired_at"] > restored["retired_at"]
    assert [r["action"] for r in dataset_audit(api, "sg-news")][-1] == "dataset retire"


def test_what_a_restore_refuses_and_who_may_restore(api: Api) -> None:
    api.add_sites([site("alpha", 1.0)])
    acme, other = api.tenant("acme"), api.tenant("other")
    register(api, acme, SG_NEWS)
    register(api, acme, {**SG_NEWS, "name": "sg-live"})
    assert retire(api, acme, "sg-news").status_code == 200
    refusals = [
        (
            "a dataset not retired",
            acme,
            "sg-live",
            409,
            "dataset sg-live is not retired; nothing to restore",
        ),
        ("a name nobody registered", acme, "nothing", 404, "no such dataset"),
        # Another tenant's dataset looks exactly like a missing one, retired or not.
        ("another tenant's retired dataset", other, "sg-news", 404, "no such dataset"),
        ("another tenant's live dataset", other, "sg-live", 404, "no such dataset"),
    ]
    for case, token, name, status, says in refusals:
        got = restore(api, token, name)
        assert (got.status_code, got.json()["message"]) == (status, says), case
    assert shown(api, acme, "sg-news")["retired_by"] == "tenant:acme"
    assert [r["action"] for r in dataset_audit(api, "sg-live")] == ["dataset add"]
    # Another tenant is not told it could restore the name: only that it is taken.
    taken = api.client.post("/v1/datasets", json=SG_NEWS, headers=api.as_(other))
    assert taken.status_code == 409 and taken.json()["message"] == (
        "dataset sg-news is retired; choose another name"
    )
    # Staff may restore any tenant's dataset; once only.
    assert restore(api, operator_token(api), "sg-news").status_code == 200
    assert dataset_audit(api, "sg-news")[-1]["actor"] == "operator"
    again = restore(api, api.admin, "sg-news")
    assert again.status_code == 409 and "not retired" in again.json()["message"]
    assert len(dataset_audit(api, "sg-news")) == 3


def test_another_server_accepts_reads_and_counts_copies_after_a_restore(
    tmp_path: Path, db_url: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two platforms on one database: the one that did not restore accepts a submit reading
    the dataset at once, and its copy of the sites holds the copy again at its next read."""
    monkeypatch.setattr(submits, "REFERENCE_TTL_S", 0.0)
    first = open_platform(tmp_path / "a", db_url)
    second = open_platform(tmp_path / "b", first.store.url)
    admin = Principal(Role.ADMIN)
    job = {"name": "reads", "tenant": "acme", "command": "true", "datasets": ["sg-news"]}
    try:
        add_site(first, admin, SiteSpec.model_validate(site("alpha", 1.0)))
        create_tenant(first, admin, TenantSpec(name="acme", country="SG"), None)
        register_dataset(first, admin, {**SG_NEWS, "owner": "acme", "sites": ["alpha"]})
        retire_dataset(first, admin, "sg-news")
        with second.store.session() as session:
            assert submits.sites_snapshot(second, session).specs[0].datasets == []
        with pytest.raises(ServiceError) as refused:
            second.submits.submit(prepare(admin, job, None)).result(timeout=60)
        assert "retired" in refused.value.message
        restore_dataset(first, admin, "sg-news")
        with second.store.session() as session:
            assert submits.sites_snapshot(second, session).specs[0].datasets == ["sg-news"]
        accepted = second.submits.submit(prepare(admin, job, None)).result(timeout=60)
        assert accepted.created
    finally:
        for platform in (first, second):
            platform.submits.close()
            platform.store.close()


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_the_cli_restores_a_dataset_in_one_line(api: Api, server_url: str) -> None:
    api.add_sites([site("alpha", 1.0)])
    token = api.tenant("acme")
    register(api, token, {**SG_NEWS, "sites": ["alpha"]})
    code, out = cli(server_url, token, "dataset", "restore", "sg-news")
    assert code != 0 and out.strip() == (
        "error: dataset sg-news is not retired; nothing to restore (HTTP 409)"
    ), out
    assert retire(api, token, "sg-news").status_code == 200
    code, out = cli(server_url, token, "dataset", "restore", "sg-news")
    assert (code, out.strip()) == (0, "dataset sg-news restored; copies at alpha (dataset)"), out
    code, out = cli(server_url, token, "dataset", "list")
    assert code == 0 and "sg-news" in out and "retired" not in out, out
    code, out = cli(server_url, token, "dataset", "restore", "--help")
    assert code == 0 and "retired dataset back" in out, out
