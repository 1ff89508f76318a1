"""Operators change a registered site (`PATCH /v1/sites/{site}`): its prices, latencies,
datasets and operator. The next scheduling pass places by the new values, the submit check
sees them at once, running jobs stay, and each change is audited. Real server, store (SQLite
and PostgreSQL), live loop and local back end."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from silkroute.audit.log import verify
from silkroute.control import submits
from silkroute.control.auth import Principal, Role
from silkroute.control.boot import open_platform
from silkroute.control.errors import ServiceError
from silkroute.control.service import add_site, create_tenant, update_site
from silkroute.control.submits import prepare
from silkroute.model.cluster import SiteSpec
from silkroute.model.tenant import TenantSpec
from silkroute.store.audit import SqlAuditStore
from silkroute.store.models import LedgerRow
from tests.agent.test_agent_api import agent_token
from tests.platform.conftest import Api
from tests.platform.test_cli import CliRefusal, cli
from tests.platform.test_node_lifecycle import audit_details, operator_token, sites

A800_NODE = {"count": 1, "accelerator": "A800", "accelerators": 8, "cpu": 16, "memory_gib": 64}


def site(name: str, price: float, **fields: Any) -> dict[str, Any]:
    """One A800 node in Singapore: two such sites differ only in what a test gives them."""
    return {
        "name": name,
        "country": "SG",
        "nodes": [A800_NODE],
        "price_per_accelerator_hour": {"A800": price},
        **fields,
    }


def patch(api: Api, name: str, body: Any, token: str | None = None) -> Any:
    headers = api.as_(token) if token is not None else api.admin_headers()
    return api.client.patch(f"/v1/sites/{name}", json=body, headers=headers)


def spec_of(api: Api, name: str) -> dict[str, Any]:
    found: dict[str, Any] = next(s for s in sites(api) if s["name"] == name)["spec"]
    return found


def wait_for_book(api: Api, name: str, field: str, value: Any) -> None:
    """Until the live loop's book carries the site's new `field` (the next pass rebuilt it):
    a pass already under way when the change committed still places by the old values."""
    deadline = time.monotonic() + 20
    while True:
        book = api.platform.loop.scheduler.book
        info = book.sites.get(name) if book is not None else None
        if info is not None and getattr(info, field) == value:
            return
        assert time.monotonic() < deadline, f"the loop never took {name}'s new {field}"
        time.sleep(0.05)


def ran_at(api: Api, token: str, **fields: Any) -> str:
    """The site a short job ran at."""
    got = api.submit(token, command="true", **fields)
    assert got.status_code == 201, got.text
    done = api.wait_for(token, got.json()["id"], ("succeeded", "failed"))
    assert done["state"] == "succeeded", done
    found: str = done["site"]
    return found


ONE_A800 = {"accelerators_per_worker": 1, "accelerator_types": ["A800"]}


# ----- the next decision uses the new values ---------------------------------------------------
def test_a_price_change_moves_the_next_placement_to_the_cheaper_site(api: Api) -> None:
    api.add_sites([site("alpha", 1.0), site("beta", 2.0)])
    token = api.tenant("acme")
    assert ran_at(api, token, **ONE_A800) == "alpha"
    operator = operator_token(api)
    got = patch(api, "alpha", {"price_per_accelerator_hour": {"a800": 3.0}}, operator)
    assert got.status_code == 200, got.text
    assert got.json()["spec"]["price_per_accelerator_hour"] == {"A800": 3.0}
    wait_for_book(api, "alpha", "price_per_accelerator_hour", {"A800": 3.0})
    assert ran_at(api, token, **ONE_A800) == "beta"
    record = audit_details(api, "alpha")[-1]
    assert record["actor"] == "operator" and record["action"] == "site update"
    assert record["changes"] == {
        "price_per_accelerator_hour": {"from": {"A800": 1.0}, "to": {"A800": 3.0}}
    }
    key = api.platform.loop.audit_key
    if key is not None:  # the chain (and any signed checkpoint) still verifies
        with api.platform.store.session() as session:
            report, _ = verify(SqlAuditStore(session), key.public_key())
        assert report.records >= 4  # two sites, a tenant and a token, and the update


def test_a_latency_change_is_seen_by_the_submit_check_and_the_next_placement(api: Api) -> None:
    api.add_sites([site("alpha", 1.0, latency_ms={"SG": 100}), site("beta", 1.0)])
    token = api.tenant("acme")
    near = {**ONE_A800, "kind": "inference", "latency_slo_ms": {"SG": 50}}
    refused = api.submit(token, command="true", **near)
    assert refused.status_code == 422, refused.text  # no site is near enough
    assert refused.json()["errors"][0]["field"] == "latency_slo_ms"
    # The submit check's copy of the sites notices the change at once (not after its TTL).
    assert patch(api, "beta", {"latency_ms": {"SG": 10, "MY": 40}}).status_code == 200
    assert ran_at(api, token, **near) == "beta"
    # Merged by key: SG's latency changes, MY's stays; null removes a region.
    got = patch(api, "alpha", {"latency_ms": {"SG": 5}})
    assert got.status_code == 200 and got.json()["spec"]["latency_ms"] == {"SG": 5}
    got = patch(api, "beta", {"latency_ms": {"SG": None}})
    assert got.status_code == 200 and got.json()["spec"]["latency_ms"] == {"MY": 40}
    wait_for_book(api, "beta", "latency_ms", {"MY": 40})
    assert ran_at(api, token, **near) == "alpha"


def test_another_server_sees_a_changed_site_at_its_next_read(
    tmp_path: Path, db_url: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two platforms on one database: the one that did not make the change re-reads the sites
    (every `REFERENCE_TTL_S`, here at once) and notices the changed declaration, although no
    site was added or removed (its copy is keyed by each site's declaration)."""
    monkeypatch.setattr(submits, "REFERENCE_TTL_S", 0.0)
    first = open_platform(tmp_path / "a", db_url)
    second = open_platform(tmp_path / "b", first.store.url)
    admin = Principal(Role.ADMIN)
    body = {
        "name": "serve",
        "tenant": "acme",
        "command": "true",
        "kind": "inference",
        "latency_slo_ms": {"SG": 50},
        **ONE_A800,
    }
    try:
        add_site(first, admin, SiteSpec.model_validate(site("alpha", 1.0)))
        create_tenant(first, admin, TenantSpec(name="acme", country="SG"), None)
        with pytest.raises(ServiceError) as refused:
            second.submits.submit(prepare(admin, body, None)).result(timeout=60)
        assert refused.value.problems[0].field == "latency_slo_ms"
        update_site(first, admin, "alpha", {"latency_ms": {"SG": 20}})
        accepted = second.submits.submit(prepare(admin, body, None)).result(timeout=60)
        assert accepted.created
    finally:
        for platform in (first, second):
            platform.submits.close()
            platform.store.close()


def test_a_dataset_moved_to_another_site_moves_new_work_and_leaves_running_work(
    api: Api,
) -> None:
    # The site holding the data is the dearer one: data locality counts before price.
    holding = {"datasets": ["sg-news"]}
    api.add_sites([site("alpha", 3.0, **holding), site("beta", 1.0)])
    token = api.tenant("acme")
    public = {"name": "sg-news", "origin": "SG", "data_class": "public"}
    got = api.client.post("/v1/datasets", json=public, headers=api.as_(token))
    assert got.status_code == 201, got.text
    reads = {**ONE_A800, "datasets": ["sg-news"]}
    first = api.submit(token, command="sleep 300", **reads).json()["id"]
    running = api.wait_for(token, first, ("running",))
    assert running["site"] == "alpha"
    assert patch(api, "alpha", {"datasets": []}).json()["spec"]["datasets"] == []
    assert patch(api, "beta", holding).json()["spec"]["datasets"] == ["sg-news"]
    wait_for_book(api, "beta", "datasets", frozenset({"sg-news"}))
    assert ran_at(api, token, **reads) == "beta"
    # The job already running stays where it is, on its first run: a site's data list
    # guides where new work goes, it does not move work.
    still = api.job(token, first)
    assert still["state"] == "running" and still["site"] == "alpha"
    assert len(still["runs"]) == 1
    api.client.delete(f"/v1/jobs/{first}", headers=api.as_(token))
    api.wait_for(token, first, ("cancelled",))


def test_operator_and_several_fields_change_at_once_and_a_no_op_records_nothing(
    api: Api,
) -> None:
    api.add_sites([site("alpha", 1.0, latency_ms={"SG": 3})])
    body = {
        "operator": "Alpha Compute Pte Ltd",
        "price_per_accelerator_hour": {"H100": 4.5},
        "datasets": ["a", "b"],
    }
    got = patch(api, "alpha", body)
    assert got.status_code == 200, got.text
    spec = spec_of(api, "alpha")
    assert got.json()["spec"] == spec
    assert spec["operator"] == "Alpha Compute Pte Ltd"
    assert spec["price_per_accelerator_hour"] == {"A800": 1.0, "H100": 4.5}  # merged
    assert spec["latency_ms"] == {"SG": 3} and spec["datasets"] == ["a", "b"]
    assert spec["nodes"] == [{**A800_NODE, "name_prefix": None}]
    records = audit_details(api, "alpha")
    assert set(records[-1]["changes"]) == {"operator", "price_per_accelerator_hour", "datasets"}
    assert records[-1]["changes"]["datasets"] == {"from": [], "to": ["a", "b"]}
    assert patch(api, "alpha", {"operator": "Alpha Compute Pte Ltd"}).status_code == 200
    assert len(audit_details(api, "alpha")) == len(records)  # nothing changed, nothing logged


def test_a_run_is_charged_at_the_price_it_was_placed_at(api: Api) -> None:
    api.add_sites([site("alpha", 1.0)])
    token = api.tenant("acme")
    first = api.submit(token, command="sleep 300", **ONE_A800).json()["id"]
    api.wait_for(token, first, ("running",))
    assert patch(api, "alpha", {"price_per_accelerator_hour": {"A800": 100.0}}).status_code == 200
    wait_for_book(api, "alpha", "price_per_accelerator_hour", {"A800": 100.0})
    api.client.delete(f"/v1/jobs/{first}", headers=api.as_(token))
    api.wait_for(token, first, ("cancelled",))
    second = api.submit(token, command="true", **ONE_A800).json()["id"]
    api.wait_for(token, second, ("succeeded",))
    with api.platform.store.session() as session:
        charged = dict(session.execute(select(LedgerRow.job_id, LedgerRow.price_per_hour)).all())
    # The run that started before the change keeps its price; the next run pays the new one.
    assert charged == {first: 1.0, second: 100.0}


# ----- refusals --------------------------------------------------------------------------------
@dataclass(frozen=True)
class BadUpdate:
    name: str
    body: str  # JSON text: some cases are not what a JSON encoder would write
    field: str
    says: str


BAD_UPDATES = [
    BadUpdate(
        "a negative price",
        '{"price_per_accelerator_hour": {"A800": -1}}',
        'price_per_accelerator_hour["A800"]',
        "greater than or equal to 0",
    ),
    BadUpdate(
        "a price for an accelerator type nobody knows",
        '{"price_per_accelerator_hour": {"H1OO": 2}}',
        'price_per_accelerator_hour["H1OO"]',
        "unknown accelerator type",
    ),
    BadUpdate(
        "true as a price",
        '{"price_per_accelerator_hour": {"A800": true}}',
        'price_per_accelerator_hour["A800"]',
        "not a boolean",
    ),
    BadUpdate(
        "an infinite price",
        '{"price_per_accelerator_hour": {"A800": 1e999}}',
        'price_per_accelerator_hour["A800"]',
        "finite",
    ),
    BadUpdate(
        "a negative latency",
        '{"latency_ms": {"SG": -5}}',
        'latency_ms["SG"]',
        "greater than or equal to 0",
    ),
    BadUpdate("false as a latency", '{"latency_ms": {"SG": false}}', 'latency_ms["SG"]', "boolean"),
    BadUpdate("nodes", '{"nodes": [{"count": 1}]}', "nodes", "/v1/sites/SITE/nodes"),
    BadUpdate("a new country", '{"country": "TH"}', "country", "data law"),
    BadUpdate("a new name", '{"name": "gamma"}', "name", "identity"),
    BadUpdate("an unknown field", '{"colour": "red"}', "colour", "not a site setting; one of"),
    BadUpdate("a null map", '{"latency_ms": null}', "latency_ms", "null inside it removes"),
    BadUpdate("a null operator", '{"operator": null}', "operator", "may not be null"),
    BadUpdate("a number as the operator", '{"operator": 7}', "operator", "string"),
    BadUpdate("a dataset list of numbers", '{"datasets": [1]}', "datasets[0]", "string"),
    BadUpdate("nothing to change", "{}", "(body)", "give at least one of operator"),
    BadUpdate("not an object", "[1]", "(body)", "dictionary"),
]


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("case", BAD_UPDATES, ids=lambda c: c.name)
def test_a_bad_update_is_refused_naming_the_field_and_changes_nothing(
    api: Api, case: BadUpdate
) -> None:
    api.add_sites([site("alpha", 1.0, latency_ms={"SG": 3})])
    before = sites(api)
    headers = {**api.admin_headers(), "Content-Type": "application/json"}
    got = api.client.patch("/v1/sites/alpha", content=case.body, headers=headers)
    assert got.status_code == 422, got.text
    body = got.json()
    fields = [e["field"] for e in body["errors"]]
    assert case.field in fields, fields
    assert case.says in body["message"] and "\n" not in body["message"], body["message"]
    assert sites(api) == before
    assert [r["action"] for r in audit_details(api, "alpha")] == ["site add"]


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_new_site_pricing_an_unknown_type_is_refused_too(api: Api) -> None:
    body = site("alpha", 1.0, price_per_accelerator_hour={"A800": 1.0, "H1OO": 2.0})
    got = api.client.post("/v1/sites", json=body, headers=api.admin_headers())
    assert got.status_code == 422, got.text
    assert got.json()["errors"][0]["field"] == 'price_per_accelerator_hour["H1OO"]'
    assert sites(api) == []
    # A type the catalogue does not know is priced where the site's own nodes have it.
    coded = {**site("beta", 1.0), "nodes": [{**A800_NODE, "accelerator": "G7"}]}
    coded["price_per_accelerator_hour"] = {"G7": 0.5}
    api.add_sites([coded])
    assert patch(api, "beta", {"price_per_accelerator_hour": {"G7": 0.6}}).status_code == 200


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_who_may_change_a_site(api: Api) -> None:
    api.add_sites([site("alpha", 1.0)])
    tenant = api.tenant("acme")
    agent = agent_token(api, "alpha")
    body = {"price_per_accelerator_hour": {"A800": 9.0}}
    assert patch(api, "alpha", body, tenant).status_code == 403
    assert patch(api, "alpha", body, agent).status_code == 403
    assert api.client.patch("/v1/sites/alpha", json=body).status_code == 401
    assert patch(api, "ghost", body).status_code == 404
    assert spec_of(api, "alpha")["price_per_accelerator_hour"] == {"A800": 1.0}
    assert "site update" not in [r["action"] for r in audit_details(api, "alpha")]
    assert patch(api, "alpha", body, operator_token(api)).status_code == 200
    assert patch(api, "alpha", {"price_per_accelerator_hour": {"A800": 8.0}}).status_code == 200


# ----- the CLI ---------------------------------------------------------------------------------
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_the_cli_updates_a_site(api: Api, server_url: str) -> None:
    api.add_sites([site("alpha", 1.0, latency_ms={"SG": 3, "MY": 9})])
    args = (
        "site",
        "update",
        "alpha",
        "--price",
        "a800=2.5",
        "--price",
        "H100=4",
        "--latency",
        "MY=none",
        "--latency",
        "TH=30",
        "--dataset",
        "sg-news",
        "--operator",
        "Alpha Compute",
        "--json",
    )
    code, out = cli(server_url, operator_token(api), *args)
    assert code == 0, out
    spec = json.loads(out)["spec"]
    assert spec["price_per_accelerator_hour"] == {"A800": 2.5, "H100": 4.0}
    assert spec["latency_ms"] == {"SG": 3, "TH": 30} and spec["datasets"] == ["sg-news"]
    assert spec["operator"] == "Alpha Compute"
    code, out = cli(server_url, api.admin, "site", "update", "alpha", "--dataset", "none")
    assert code == 0 and "alpha" in out and "Alpha Compute" in out, out
    assert spec_of(api, "alpha")["datasets"] == []


CLI_REFUSALS = [
    CliRefusal("no option", (), "nothing to change"),
    CliRefusal("a price without a type", ("--price", "2.5"), "--price"),
    CliRefusal("a price that is not a number", ("--price", "A800=cheap"), "--price A800"),
    CliRefusal("a negative price", ("--price", "A800=-1"), "price_per_accelerator_hour"),
    CliRefusal("an unknown type", ("--price", "H1OO=2"), "unknown accelerator type"),
    CliRefusal("a latency without a region", ("--latency", "=4"), "--latency"),
]


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("case", CLI_REFUSALS, ids=lambda c: c.name)
def test_the_cli_refuses_a_bad_site_update_in_one_line(
    api: Api, server_url: str, case: CliRefusal
) -> None:
    api.add_sites([site("alpha", 1.0)])
    code, out = cli(server_url, api.admin, "site", "update", "alpha", *case.args)
    assert code == 2 and case.says in out and out.count("\n") == 1, out
    assert spec_of(api, "alpha")["price_per_accelerator_hour"] == {"A800": 1.0}
