"""A registered dataset can be retired (`DELETE /v1/datasets/{name}`, `silkroute dataset
retire`): the row stays readable (the audit log, past jobs and yearly counts name it), no new
job may read it, its copies stop drawing work, and a job still reading it blocks the retire.
Real server, store (SQLite and PostgreSQL), live loop and local back end."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from silkroute.audit.log import load_public_key, verify
from silkroute.control import submits
from silkroute.control.auth import Principal, Role
from silkroute.control.boot import open_platform
from silkroute.control.governance import register_dataset, retire_dataset
from silkroute.control.service import add_site, create_tenant
from silkroute.model.cluster import SiteSpec
from silkroute.model.tenant import TenantSpec
from silkroute.store.audit import SqlAuditStore
from tests.platform.conftest import Api
from tests.platform.test_cli import cli
from tests.platform.test_dataset_copies import SG_NEWS, dataset_audit, register, shown
from tests.platform.test_node_lifecycle import operator_token
from tests.platform.test_site_update import ONE_A800, ran_at, site, wait_for_book


def retire(api: Api, token: str, name: str) -> Any:
    return api.client.delete(f"/v1/datasets/{name}", headers=api.as_(token))


def listed(api: Api, token: str, query: str = "") -> list[str]:
    got = api.client.get(f"/v1/datasets{query}", headers=api.as_(token))
    assert got.status_code == 200, got.text
    return [d["name"] for d in got.json()]


def test_a_retired_dataset_stays_readable_but_leaves_the_list_and_is_audited(api: Api) -> None:
    api.add_sites([site("alpha", 1.0)])
    token = api.tenant("acme")
    register(api, token, {**SG_NEWS, "sites": ["alpha"]})
    register(api, token, {**SG_NEWS, "name": "sg-kept"})
    got = retire(api, token, "sg-news")
    assert got.status_code == 200, got.text
    one = shown(api, token, "sg-news")
    assert one["retired_by"] == "tenant:acme" and one["retired_at"] is not None
    # The record keeps the sites it listed; as copies they count nowhere now.
    assert (one["sites"], one["copies"]) == (["alpha"], [])
    assert shown(api, token, "sg-kept")["retired_at"] is None
    assert listed(api, token) == ["sg-kept"]
    assert listed(api, token, "?include_retired=true") == ["sg-kept", "sg-news"]
    records = dataset_audit(api, "sg-news")
    assert [r["action"] for r in records] == ["dataset add", "dataset retire"]
    assert records[-1]["actor"] == "tenant:acme" and records[-1]["sites"] == ["alpha"]
    with api.platform.store.session() as session:
        verify(SqlAuditStore(session), load_public_key(api.data_dir / "audit.key.pub"))
    # Once only; the name stays taken (the audit trail names it); its copies stay put.
    again = [
        (retire(api, token, "sg-news"), 409, "retired already"),
        (
            api.client.post("/v1/datasets", json=SG_NEWS, headers=api.as_(token)),
            409,
            "retired; restore it (POST /v1/datasets/sg-news/restore) or choose another name",
        ),
        (
            api.client.patch("/v1/datasets/sg-news", json={"sites": []}, headers=api.as_(token)),
            409,
            "retired",
        ),
    ]
    for answer, status, reason in again:
        assert (answer.status_code, reason in answer.text) == (status, True), answer.text
    assert len(dataset_audit(api, "sg-news")) == 2


def test_who_may_retire_a_dataset(api: Api) -> None:
    api.add_sites([site("alpha", 1.0)])
    acme, other = api.tenant("acme"), api.tenant("other")
    register(api, acme, SG_NEWS)
    register(api, acme, {**SG_NEWS, "name": "sg-two"})
    # Another tenant's dataset looks exactly like a missing one; staff may retire it.
    assert retire(api, other, "sg-news").status_code == 404
    assert retire(api, other, "nothing").status_code == 404
    assert shown(api, acme, "sg-news")["retired_at"] is None
    assert retire(api, operator_token(api), "sg-news").status_code == 200
    assert retire(api, api.admin, "sg-two").status_code == 200
    assert [r["retired_by"] for r in (shown(api, acme, n) for n in ("sg-news", "sg-two"))] == [
        "operator",
        "admin",
    ]


def test_a_job_still_reading_the_dataset_blocks_its_retire_until_cancelled(api: Api) -> None:
    api.add_sites([site("alpha", 1.0)])
    token = api.tenant("acme")
    register(api, token, SG_NEWS)
    job = api.submit(token, command="sleep 60", datasets=["sg-news"]).json()["id"]
    api.wait_for(token, job, ("running",))
    got = retire(api, token, "sg-news")
    assert got.status_code == 409, got.text
    assert f"{job} (running)" in got.text and "cancel" in got.text
    assert shown(api, token, "sg-news")["retired_at"] is None
    assert [r["action"] for r in dataset_audit(api, "sg-news")] == ["dataset add"]
    assert api.client.delete(f"/v1/jobs/{job}", headers=api.as_(token)).status_code == 202
    api.wait_for(token, job, ("cancelled",))
    assert retire(api, token, "sg-news").status_code == 200


def test_a_submit_reading_a_retired_dataset_is_refused_on_its_field(api: Api) -> None:
    api.add_sites([site("alpha", 1.0)])
    token = api.tenant("acme")
    register(api, token, SG_NEWS)
    assert retire(api, token, "sg-news").status_code == 200
    got = api.submit(token, command="true", datasets=["sg-news"])
    assert got.status_code == 422, got.text
    problem = got.json()["errors"][0]
    assert problem["field"] == "datasets[0]" and "retired" in problem["reason"]


def test_a_retired_datasets_copy_no_longer_draws_its_jobs(api: Api) -> None:
    # Both records put the copy at the dearer site; retired, neither counts there.
    api.add_sites([site("alpha", 1.0), site("beta", 3.0, datasets=["sg-news"])])
    token = api.tenant("acme")
    register(api, token, {**SG_NEWS, "sites": ["beta"]})
    register(api, token, {**SG_NEWS, "name": "sg-new"})
    assert ran_at(api, token, **ONE_A800, datasets=["sg-news"]) == "beta"
    assert retire(api, token, "sg-news").status_code == 200
    wait_for_book(api, "beta", "datasets", frozenset())
    assert ran_at(api, token, **ONE_A800, datasets=["sg-new"]) == "alpha"


def test_another_server_drops_a_retired_copy_from_its_sites_at_its_next_read(
    tmp_path: Path, db_url: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The submit check's copy of the sites is keyed by the retired datasets too."""
    monkeypatch.setattr(submits, "REFERENCE_TTL_S", 0.0)
    first = open_platform(tmp_path / "a", db_url)
    second = open_platform(tmp_path / "b", first.store.url)
    admin = Principal(Role.ADMIN)
    try:
        add_site(first, admin, SiteSpec.model_validate(site("alpha", 1.0, datasets=["sg-news"])))
        create_tenant(first, admin, TenantSpec(name="acme", country="SG"), None)
        register_dataset(first, admin, {**SG_NEWS, "owner": "acme"})
        with second.store.session() as session:
            assert submits.sites_snapshot(second, session).specs[0].datasets == ["sg-news"]
        retire_dataset(first, admin, "sg-news")
        with second.store.session() as session:
            assert submits.sites_snapshot(second, session).specs[0].datasets == []
    finally:
        for platform in (first, second):
            platform.submits.close()
            platform.store.close()


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_the_cli_retires_a_dataset_in_one_line(api: Api, server_url: str) -> None:
    api.add_sites([site("alpha", 1.0)])
    token = api.tenant("acme")
    register(api, token, SG_NEWS)
    code, out = cli(server_url, token, "dataset", "retire", "sg-news")
    assert (code, out.strip()) == (0, "dataset sg-news retired by tenant:acme"), out
    code, out = cli(server_url, token, "dataset", "retire", "sg-news")
    assert code != 0 and "retired already" in out
    code, out = cli(server_url, token, "dataset", "list")
    assert code == 0 and "sg-news" not in out, out
    code, out = cli(server_url, token, "dataset", "list", "--include-retired")
    assert code == 0 and "sg-news (retired)" in out, out
