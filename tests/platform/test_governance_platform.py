"""Data governance on the live platform: the dataset registry, compliance records, refusals at
submit, data-law holds, grants that release held jobs, and `explain`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import func, select

from silkroute.store.models import DatasetRow, GrantRow, JobRow
from tests.platform.conftest import WAIT_S, Api

VN_HEALTH = {
    "name": "vn-health",
    "origin": "VN",
    "data_class": "personal",
    "subjects": 40_000,
    "sites": ["hanoi"],
    "size_bytes": 10_000_000,
    "licence": "internal",
    "tags": ["health", "vi"],
}


def count(api: Api, table: Any) -> int:
    with api.platform.store.session() as session:
        return int(session.scalar(select(func.count()).select_from(table)) or 0)


def post(api: Api, token: str, path: str, body: Any) -> Any:
    return api.client.post(path, json=body, headers=api.as_(token))


# ----- the registry -----------------------------------------------------------------------------
def test_a_tenant_registers_a_dataset_and_sees_only_its_own(api: Api) -> None:
    api.add_sites()
    acme, other = api.tenant("acme"), api.tenant("other")
    got = post(api, acme, "/v1/datasets", VN_HEALTH)
    assert got.status_code == 201, got.text
    assert got.json() == {
        **VN_HEALTH,
        "owner": "acme",
        "tags": ["health", "vi"],
        "copies": [{"site": "hanoi", "recorded_by": ["dataset"]}],
        "retired_at": None,
        "retired_by": None,
    }
    post(api, other, "/v1/datasets", {**VN_HEALTH, "name": "theirs", "data_class": "public"})
    mine = api.client.get("/v1/datasets", headers=api.as_(acme)).json()
    assert [d["name"] for d in mine] == ["vn-health"]
    one = api.client.get("/v1/datasets/vn-health", headers=api.as_(acme))
    assert one.status_code == 200 and one.json()["subjects"] == 40_000
    everyone = api.client.get("/v1/datasets", headers=api.admin_headers()).json()
    assert sorted(d["name"] for d in everyone) == ["theirs", "vn-health"]
    again = post(api, acme, "/v1/datasets", VN_HEALTH)
    assert again.status_code == 409 and again.json()["code"] == "exists"


@dataclass(frozen=True)
class BadDataset:
    name: str
    change: dict[str, Any]
    want_field: str


BAD_DATASETS = [
    BadDataset("an unknown data class", {"data_class": "secret"}, "data_class"),
    BadDataset("an origin without rules", {"origin": "US"}, "origin"),
    BadDataset("a copy at a site that does not exist", {"sites": ["mars"]}, "sites"),
    BadDataset("a negative number of data subjects", {"subjects": -1}, "subjects"),
    BadDataset("an unknown field", {"colour": "red"}, "colour"),
    BadDataset("a name with a slash", {"name": "a/b"}, "name"),
    BadDataset("an owner that is not a tenant", {"owner": None, "name": "x"}, "owner"),
    BadDataset("a NUL in the licence", {"licence": "a\x00b"}, "licence"),
]


@pytest.mark.parametrize("case", BAD_DATASETS, ids=lambda c: c.name)
def test_a_bad_dataset_is_refused_naming_the_field(api: Api, case: BadDataset) -> None:
    api.add_sites()
    body = {**VN_HEALTH, **case.change}
    if case.want_field == "owner":  # the admin has no tenant to default to
        body["owner"] = "nobody"
    token = api.admin if case.want_field == "owner" else api.tenant("acme")
    got = post(api, token, "/v1/datasets", body)
    assert got.status_code == 422, got.text
    assert [p["field"] for p in got.json()["errors"]] == [case.want_field]
    assert count(api, DatasetRow) == 0


# ----- compliance records -----------------------------------------------------------------------
def test_a_tenant_records_its_mechanisms_and_lists_only_its_own(api: Api) -> None:
    acme, other = api.tenant("acme"), api.tenant("other")
    body = {
        "mechanism": "tia",
        "origin": "VN",
        "destinations": ["SG"],
        "counterparty": "Singapore partner centre",
        "reference": "A05-2026-117",
        "valid_until": "2027-12-31",
    }
    got = post(api, acme, "/v1/compliance", body)
    assert got.status_code == 201, got.text
    assert {k: got.json()[k] for k in body} == body
    assert got.json()["tenant"] == "acme"
    post(api, other, "/v1/compliance", {"mechanism": "scc"})
    mine = api.client.get("/v1/compliance", headers=api.as_(acme)).json()
    assert [(g["tenant"], g["mechanism"]) for g in mine] == [("acme", "tia")]
    assert len(api.client.get("/v1/compliance", headers=api.admin_headers()).json()) == 2


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"mechanism": "nda"}, "mechanism"),
        ({"mechanism": "tia", "origin": "XX"}, "origin"),
        ({"mechanism": "tia", "valid_until": "31/12/2027"}, "valid_until"),
        (
            {"mechanism": "tia", "valid_from": "2027-01-02", "valid_until": "2027-01-01"},
            "valid_until",
        ),
        ({"mechanism": "tia", "destinations": ["Singapore"]}, "destinations[0]"),
        ({"mechanism": "tia", "with": "x"}, "with"),
        ({"mechanism": "tia", "origin": "VN", "destinations": []}, "destinations"),
    ],
    ids=[
        "an unknown mechanism",
        "an origin without rules",
        "a date in the wrong format",
        "an end before the start",
        "a destination that is not a country code",
        "an unknown field",
        # It covered no destination and was listed as covering any.
        "an empty list of destinations",
    ],
)
def test_a_bad_compliance_record_is_refused_naming_the_field(
    api: Api, body: dict[str, Any], field: str
) -> None:
    acme = api.tenant("acme")
    got = post(api, acme, "/v1/compliance", body)
    assert got.status_code == 422, got.text
    assert got.json()["errors"][0]["field"] == field
    assert count(api, GrantRow) == 0


def test_a_tenant_can_be_flagged_as_a_ciio(api: Api) -> None:
    got = api.client.post(
        "/v1/tenants",
        json={"name": "grid", "country": "CN", "ciio": True},
        headers=api.admin_headers(),
    )
    assert got.status_code == 201 and got.json()["tenant"]["ciio"] is True
    plain = api.client.post(
        "/v1/tenants", json={"name": "shop", "country": "CN"}, headers=api.admin_headers()
    )
    assert plain.json()["tenant"]["ciio"] is False


# ----- the law at submit, in the loop, and explained ----------------------------------------
def test_a_job_naming_an_unregistered_or_foreign_dataset_is_refused_naming_the_field(
    api: Api,
) -> None:
    api.add_sites()
    acme, other = api.tenant("acme"), api.tenant("other")
    post(api, other, "/v1/datasets", VN_HEALTH)
    for names in (["no-such-data"], ["vn-health"]):
        got = api.submit(acme, datasets=names)
        assert got.status_code == 422, got.text
        assert got.json()["errors"][0]["field"] == "datasets[0]"
    assert count(api, JobRow) == 0


def test_a_job_whose_data_may_go_to_none_of_its_sites_is_refused_with_rule_and_unblock(
    api: Api,
) -> None:
    api.add_sites()
    acme = api.tenant("acme")
    post(api, acme, "/v1/datasets", VN_HEALTH)
    got = api.submit(acme, datasets=["vn-health"], sites=["singapore", "bangkok"])
    assert got.status_code == 409, got.text
    body = got.json()
    assert body["code"] == "data_law"
    for words in ("vn-health", "VN-PDPL-PERSONAL", "unblock: hold tia for VN->SG", "bangkok"):
        assert words in body["message"]
    assert count(api, JobRow) == 0
    # Domestic processing is always lawful: the same job may run at hanoi.
    assert api.submit(acme, datasets=["vn-health"], sites=["hanoi"]).status_code == 201


def test_a_job_held_by_the_data_law_says_why_and_starts_once_the_tenant_holds_the_mechanism(
    api: Api,
) -> None:
    api.add_sites()
    acme = api.tenant("acme")
    post(api, acme, "/v1/datasets", VN_HEALTH)
    # Lawful at hanoi, but only singapore has H100s: the job waits on the data law.
    got = api.submit(acme, datasets=["vn-health"], accelerator_types=["H100"], command="true")
    assert got.status_code == 201, got.text
    job_id = got.json()["id"]
    deadline_job = _wait_for_hold(api, acme, job_id)
    assert deadline_job["hold_reason"] == "data-law:VN-PDPL-PERSONAL"
    assert "unblock: hold tia for VN->SG" in deadline_job["hold_message"]
    reasons = deadline_job["reasons_by_site"]
    assert reasons["singapore"].startswith("refused by data-law:VN-PDPL-PERSONAL: dataset vn")
    assert reasons["hanoi"] == "has no H100"
    explained = api.client.get(f"/v1/jobs/{job_id}/explain", headers=api.as_(acme)).json()
    verdicts = {s["site"]: s["verdict"] for s in explained["sites"]}
    assert verdicts == {
        "hanoi": "allow",
        "singapore": "deny",
        "bangkok": "deny",
        "jakarta": "deny",
        "nanning": "deny",
    }
    singapore = next(s for s in explained["sites"] if s["site"] == "singapore")
    assert singapore["refusals"][0]["rule"] == "VN-PDPL-PERSONAL"
    assert explained["lines"][0].startswith("allow hanoi (VN)")
    grant = {"mechanism": "tia", "origin": "VN", "destinations": ["SG"], "counterparty": "SG DC"}
    assert post(api, acme, "/v1/compliance", grant).status_code == 201
    done = api.wait_for(acme, job_id, ("succeeded",))
    assert done["site"] == "singapore"
    after = api.client.get(f"/v1/jobs/{job_id}/explain", headers=api.as_(acme)).json()
    assert {s["site"]: s["verdict"] for s in after["sites"]}["singapore"] == "allow"


def _wait_for_hold(api: Api, token: str, job_id: int, timeout: float = WAIT_S) -> dict[str, Any]:
    import time

    deadline = time.monotonic() + timeout
    while True:
        job = api.job(token, job_id)
        if job["hold_reason"]:
            return job
        assert time.monotonic() < deadline, job
        time.sleep(0.05)


def test_an_operator_restriction_holds_a_job_and_explain_names_it(api: Api) -> None:
    api.add_sites()
    acme = api.tenant("acme")
    public = {"name": "sg-news", "origin": "SG", "data_class": "public"}
    assert post(api, acme, "/v1/datasets", public).status_code == 201
    api.platform.loop.operator_policies = (
        '@id("acme-barred-from-singapore")\n'
        '@reason("tenant acme is barred from singapore")\n'
        'forbid (principal == Tenant::"acme", action, resource == Site::"singapore");\n'
    )
    api.platform.loop.governance_changed()
    got = api.submit(acme, datasets=["sg-news"], accelerator_types=["H100"])
    assert got.status_code == 201, got.text  # lawful elsewhere: accepted, then held
    job = _wait_for_hold(api, acme, got.json()["id"])
    assert job["hold_reason"] == "operator:acme-barred-from-singapore"
    explained = api.client.get(f"/v1/jobs/{job['id']}/explain", headers=api.as_(acme)).json()
    singapore = next(s for s in explained["sites"] if s["site"] == "singapore")
    assert singapore["verdict"] == "deny"
    assert singapore["refusals"][0]["code"] == "operator:acme-barred-from-singapore"
    only_there = api.submit(acme, datasets=["sg-news"], sites=["singapore"])
    assert only_there.status_code == 409 and "acme is barred" in only_there.json()["message"]
