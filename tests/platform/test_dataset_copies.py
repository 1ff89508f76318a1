"""One answer to "where are the copies of dataset X": a site's declared `datasets` and a
registered dataset's `sites` are two records of it, and placement, `GET /v1/datasets` and
`explain` all read both (control/copies.py). The data law reads neither. Real server, store
(SQLite and PostgreSQL), live loop and local back end."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from silkroute.control import submits
from silkroute.control.auth import Principal, Role
from silkroute.control.boot import open_platform
from silkroute.control.governance import register_dataset
from silkroute.control.service import add_site, create_tenant
from silkroute.model.cluster import SiteSpec
from silkroute.model.tenant import TenantSpec
from silkroute.store.models import AuditRecordRow
from tests.platform.conftest import Api
from tests.platform.test_cli import cli
from tests.platform.test_node_lifecycle import operator_token
from tests.platform.test_site_update import ONE_A800, patch, ran_at, site, wait_for_book

SG_NEWS = {"name": "sg-news", "origin": "SG", "data_class": "public"}


def register(api: Api, token: str, body: dict[str, Any]) -> dict[str, Any]:
    got = api.client.post("/v1/datasets", json=body, headers=api.as_(token))
    assert got.status_code == 201, got.text
    found: dict[str, Any] = got.json()
    return found


def shown(api: Api, token: str, name: str) -> dict[str, Any]:
    got = api.client.get(f"/v1/datasets/{name}", headers=api.as_(token))
    assert got.status_code == 200, got.text
    found: dict[str, Any] = got.json()
    return found


def test_a_copy_registered_at_the_dearer_site_sends_jobs_reading_the_data_there(
    api: Api,
) -> None:
    # Neither site declares the data: only the dataset's registration says where it sits.
    api.add_sites([site("alpha", 1.0), site("beta", 3.0)])
    token = api.tenant("acme")
    got = register(api, token, {**SG_NEWS, "sites": ["beta"]})
    wait_for_book(api, "beta", "datasets", frozenset({"sg-news"}))
    # Data locality counts before price; a job reading nothing still goes to the cheaper site.
    assert ran_at(api, token, **ONE_A800, datasets=["sg-news"]) == "beta"
    assert ran_at(api, token, **ONE_A800) == "alpha"
    # The site's own declaration is not rewritten: the copy is recorded once, by the dataset.
    declared = api.client.get("/v1/sites", headers=api.as_(token)).json()
    assert {s["name"]: s["spec"]["datasets"] for s in declared} == {"alpha": [], "beta": []}
    assert got["copies"] == [{"site": "beta", "recorded_by": ["dataset"]}]


def test_a_site_patch_that_adds_or_drops_a_dataset_shows_in_the_datasets_copies(
    api: Api,
) -> None:
    api.add_sites([site("alpha", 1.0), site("beta", 1.0)])
    token = api.tenant("acme")
    register(api, token, {**SG_NEWS, "sites": ["alpha"]})
    assert patch(api, "beta", {"datasets": ["sg-news"]}).status_code == 200
    assert patch(api, "alpha", {"datasets": ["sg-news", "other"]}).status_code == 200
    one = shown(api, token, "sg-news")
    assert one["sites"] == ["alpha", "beta"]
    assert one["copies"] == [
        {"site": "alpha", "recorded_by": ["site", "dataset"]},
        {"site": "beta", "recorded_by": ["site"]},
    ]
    listed = api.client.get("/v1/datasets", headers=api.as_(token)).json()
    assert [d["copies"] for d in listed] == [one["copies"]]
    # Dropping beta's copy is seen at once; alpha's registered copy stays where only the site
    # record of it was dropped.
    assert patch(api, "beta", {"datasets": []}).status_code == 200
    assert patch(api, "alpha", {"datasets": []}).status_code == 200
    assert shown(api, token, "sg-news")["copies"] == [{"site": "alpha", "recorded_by": ["dataset"]}]
    wait_for_book(api, "beta", "datasets", frozenset())
    wait_for_book(api, "alpha", "datasets", frozenset({"sg-news"}))


VN_HEALTH = {"name": "vn-health", "origin": "VN", "data_class": "personal", "subjects": 40_000}


def test_the_data_law_refuses_a_site_its_origin_forbids_even_where_a_copy_sits(
    api: Api,
) -> None:
    """Vietnam's personal data may not go to Thailand without a transfer impact assessment:
    a copy sitting in Bangkok (both records say so, and Bangkok is cheaper) changes nothing."""
    api.add_sites(
        [
            site("bangkok", 1.0, country="TH", datasets=["vn-health"]),
            site("hanoi", 3.0, country="VN"),
        ]
    )
    token = api.tenant("acme")
    register(api, token, {**VN_HEALTH, "sites": ["bangkok"]})
    wait_for_book(api, "bangkok", "datasets", frozenset({"vn-health"}))
    reads = {**ONE_A800, "datasets": ["vn-health"]}
    assert ran_at(api, token, **reads) == "hanoi"
    # Only Bangkok accepted: refused at submit, with the rule and what would unblock it.
    refused = api.submit(token, command="true", sites=["bangkok"], **reads)
    assert refused.status_code == 409, refused.text
    assert refused.json()["code"] == "data_law"
    message = refused.json()["message"]
    assert "site bangkok (TH): dataset vn-health: rule VN-PDPL-PERSONAL" in message
    assert "unblock: hold tia for VN->TH" in message
    # `explain` shows the copy and the refusal side by side, from the same answer as placement.
    job = api.submit(token, command="true", **reads).json()["id"]
    explained = api.client.get(f"/v1/jobs/{job}/explain", headers=api.as_(token)).json()
    verdicts = {s["site"]: s["verdict"] for s in explained["sites"]}
    assert verdicts == {"bangkok": "deny", "hanoi": "allow"}
    assert explained["copies"] == {
        "vn-health": [{"site": "bangkok", "recorded_by": ["site", "dataset"]}]
    }
    assert (
        "copies of vn-health (locality only, not the law): bangkok (site+dataset)"
        in explained["lines"]
    )


def test_another_server_sees_a_registered_copy_in_its_sites_at_its_next_read(
    tmp_path: Path, db_url: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two platforms on one database: the one that did not register the dataset re-reads its
    sites (every `REFERENCE_TTL_S`, here at once) with the new copy in them, although no
    site's own declaration changed (its copy is keyed by the registered copies too)."""
    monkeypatch.setattr(submits, "REFERENCE_TTL_S", 0.0)
    first = open_platform(tmp_path / "a", db_url)
    second = open_platform(tmp_path / "b", first.store.url)
    admin = Principal(Role.ADMIN)
    try:
        add_site(first, admin, SiteSpec.model_validate(site("alpha", 1.0)))
        create_tenant(first, admin, TenantSpec(name="acme", country="SG"), None)
        with second.store.session() as session:
            assert submits.sites_snapshot(second, session).specs[0].datasets == []
        register_dataset(first, admin, {**SG_NEWS, "owner": "acme", "sites": ["alpha"]})
        with second.store.session() as session:
            assert submits.sites_snapshot(second, session).specs[0].datasets == ["sg-news"]
    finally:
        for platform in (first, second):
            platform.submits.close()
            platform.store.close()


def dataset_audit(api: Api, name: str) -> list[dict[str, Any]]:
    with api.platform.store.session() as session:
        rows = session.execute(
            select(AuditRecordRow.actor, AuditRecordRow.detail)
            .where(AuditRecordRow.subject == f"dataset/{name}")
            .order_by(AuditRecordRow.seq)
        ).all()
    return [{"actor": actor, **json.loads(detail)} for actor, detail in rows]


def patch_dataset(api: Api, token: str, name: str, body: Any) -> Any:
    return api.client.patch(f"/v1/datasets/{name}", json=body, headers=api.as_(token))


def test_a_dataset_patch_moves_its_registered_copy_and_new_work_follows(api: Api) -> None:
    api.add_sites([site("alpha", 1.0), site("beta", 3.0, datasets=["sg-news"])])
    token = api.tenant("acme")
    register(api, token, {**SG_NEWS, "sites": ["alpha"]})
    got = patch_dataset(api, token, "sg-news", {"sites": ["beta"]})
    assert got.status_code == 200, got.text
    # The registration's record moved; beta's own declaration was there all along.
    assert got.json()["sites"] == ["beta"]
    assert got.json()["copies"] == [{"site": "beta", "recorded_by": ["site", "dataset"]}]
    wait_for_book(api, "alpha", "datasets", frozenset())
    assert ran_at(api, token, **ONE_A800, datasets=["sg-news"]) == "beta"
    records = dataset_audit(api, "sg-news")
    assert [r["action"] for r in records] == ["dataset add", "dataset update"]
    assert records[-1]["actor"] == "tenant:acme"
    assert records[-1]["changes"] == {"sites": {"from": ["alpha"], "to": ["beta"]}}
    # The same list again changes nothing and records nothing.
    assert patch_dataset(api, token, "sg-news", {"sites": ["beta"]}).status_code == 200
    assert len(dataset_audit(api, "sg-news")) == 2


def test_who_may_move_a_datasets_copies_and_what_is_refused(api: Api) -> None:
    api.add_sites([site("alpha", 1.0)])
    acme, other = api.tenant("acme"), api.tenant("other")
    register(api, acme, {**SG_NEWS, "sites": ["alpha"]})
    # Another tenant's dataset looks exactly like a missing one; staff may move it.
    assert patch_dataset(api, other, "sg-news", {"sites": []}).status_code == 404
    assert patch_dataset(api, other, "nothing", {"sites": []}).status_code == 404
    assert patch_dataset(api, operator_token(api), "sg-news", {"sites": []}).status_code == 200
    refusals = [
        ({"sites": ["mars"]}, "sites[0]", "no site named 'mars'"),
        ({"sites": "alpha"}, "sites", "a list of site names"),
        ({"sites": [7]}, "sites[0]", "a site name"),
        ({"origin": "CN"}, "origin", "unknown field; valid: sites"),
        ({}, "(body)", "give sites"),
    ]
    for body, field, reason in refusals:
        got = patch_dataset(api, acme, "sg-news", body)
        assert got.status_code == 422, (body, got.text)
        problem = got.json()["errors"][0]
        assert (problem["field"], reason in problem["reason"]) == (field, True), body
    assert shown(api, acme, "sg-news")["sites"] == []
    assert len(dataset_audit(api, "sg-news")) == 2  # the add and the operator's update


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_the_cli_moves_a_datasets_copies(api: Api, server_url: str) -> None:
    api.add_sites([site("alpha", 1.0), site("beta", 1.0, datasets=["sg-news"])])
    token = api.tenant("acme")
    register(api, token, {**SG_NEWS, "sites": ["alpha"]})
    code, out = cli(server_url, token, "dataset", "update", "sg-news", "--site", "none")
    assert code == 0, out
    assert "dataset sg-news: copies at beta (site)" in out
    assert shown(api, token, "sg-news")["copies"] == [{"site": "beta", "recorded_by": ["site"]}]
    code, out = cli(server_url, token, "dataset", "update", "sg-news", "--site", "mars")
    assert code != 0 and "sites[0]: no site named 'mars'" in out
