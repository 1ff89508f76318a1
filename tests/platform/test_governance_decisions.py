"""Every data decision reaches the audit log, refusals at submit included; a job that
operator policies bar everywhere is held (inadmissible) with a reason naming the policy."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import select

from silkroute.audit.log import verify
from silkroute.store.audit import SqlAuditStore
from silkroute.store.models import AuditRecordRow, JobRow
from tests.platform.conftest import Api
from tests.platform.test_governance_platform import VN_HEALTH, _wait_for_hold, count, post


def data_decisions(api: Api) -> list[dict[str, Any]]:
    with api.platform.store.session() as session:
        rows = session.scalars(
            select(AuditRecordRow)
            .where(AuditRecordRow.kind == "data-decision")
            .order_by(AuditRecordRow.seq)
        ).all()
        return [{"actor": r.actor, "subject": r.subject, **json.loads(r.detail)} for r in rows]


@dataclass(frozen=True)
class Refused:
    name: str
    datasets: list[str]
    sites: list[str] | None
    status: int
    refused: str  # what the audit record says it was


REFUSED = [
    Refused("a dataset nobody registered", ["no-such-data"], None, 422, "unknown-dataset"),
    Refused("another tenant's dataset", ["theirs"], None, 422, "another-tenants-dataset"),
    Refused(
        "data that may lawfully go to none of its sites",
        ["vn-health"],
        ["singapore", "bangkok"],
        409,
        "lawful-nowhere",
    ),
]


@pytest.mark.parametrize("case", REFUSED, ids=lambda c: c.name)
def test_a_submit_refused_by_a_data_decision_is_in_the_audit_log(api: Api, case: Refused) -> None:
    api.add_sites()
    acme, other = api.tenant("acme"), api.tenant("other")
    assert post(api, acme, "/v1/datasets", VN_HEALTH).status_code == 201
    assert post(api, other, "/v1/datasets", {**VN_HEALTH, "name": "theirs"}).status_code == 201
    before = len(data_decisions(api))
    got = api.submit(acme, name="refused-job", datasets=case.datasets, sites=case.sites)
    assert got.status_code == case.status, got.text
    assert count(api, JobRow) == 0
    records = data_decisions(api)
    assert len(records) == before + 1
    last = records[-1]
    assert last["actor"] == "tenant:acme" and last["subject"] == "tenant/acme"
    assert last["action"] == "submit refused" and last["refused"] == case.refused
    assert last["job_name"] == "refused-job" and last["datasets"] == case.datasets
    assert last["status"] == case.status and last["reason"] == got.json()["message"]
    if case.refused == "lawful-nowhere":  # every site's verdict, to replay the decision
        assert {s["site"] for s in last["sites"]} == {"singapore", "bangkok"}
        assert all(s["verdict"] == "deny" for s in last["sites"])
        assert last["rules_version"]
    # The refusal is chained into the log like any other record: it still verifies.
    key = api.platform.loop.audit_key
    assert key is not None
    with api.platform.store.session() as session:
        report, _ = verify(SqlAuditStore(session), key.public_key())
    assert report.records >= len(records)


def test_a_submit_refused_for_another_reason_writes_no_data_decision(api: Api) -> None:
    api.add_sites()
    acme = api.tenant("acme")
    got = api.submit(acme, datasets=[], accelerator_types=["TPU-v9"])
    assert got.status_code == 422
    assert data_decisions(api) == []


BAR_ACME = (
    '@id("acme-suspended")\n'
    '@reason("tenant acme is suspended pending a security review")\n'
    '@unblock("the operator lifts the suspension once the review closes")\n'
    'forbid (principal == Tenant::"acme", action, resource);\n'
)


def test_a_job_without_data_barred_everywhere_by_an_operator_is_held_naming_the_policy(
    api: Api,
) -> None:
    api.add_sites()
    acme = api.tenant("acme")
    api.platform.loop.operator_policies = BAR_ACME
    api.platform.loop.governance_changed()
    got = api.submit(acme, command="true")
    # Accepted, as Kueue accepts an inadmissible workload: the operator may lift the bar.
    assert got.status_code == 201, got.text
    job = _wait_for_hold(api, acme, got.json()["id"])
    assert job["state"] == "pending"
    assert job["hold_reason"] == "operator:acme-suspended"
    message = job["hold_message"]
    assert message.startswith("inadmissible: operator policy acme-suspended bars it at every")
    for words in (
        "bangkok, hanoi, jakarta, nanning, singapore",
        "tenant acme is suspended pending a security review",
        "unblock: the operator lifts the suspension once the review closes",
    ):
        assert words in message
    held = [r for r in data_decisions(api) if r["subject"] == f"job/{job['id']}"]
    assert held and held[-1]["reason"] == "operator:acme-suspended"
    # What the hold says would unblock it does.
    api.platform.loop.operator_policies = None
    api.platform.loop.governance_changed()
    assert api.wait_for(acme, job["id"], ("succeeded",))["hold_reason"] is None


def test_a_job_barred_by_several_operator_policies_names_each(api: Api) -> None:
    api.add_sites()
    acme = api.tenant("acme")
    api.platform.loop.operator_policies = (
        '@id("no-acme-in-singapore")\n'
        'forbid (principal == Tenant::"acme", action, resource == Site::"singapore");\n'
        '@id("acme-only-singapore")\n'
        '@reason("acme contracted for singapore only")\n'
        'forbid (principal == Tenant::"acme", action, resource)\n'
        'unless { resource == Site::"singapore" };\n'
    )
    api.platform.loop.governance_changed()
    got = api.submit(acme, command="true")
    assert got.status_code == 201, got.text
    job = _wait_for_hold(api, acme, got.json()["id"])
    message = job["hold_message"]
    assert message.startswith("inadmissible: operator policies bar every site it may use")
    assert "operator policy no-acme-in-singapore at singapore" in message
    assert "operator policy acme-only-singapore at bangkok, hanoi, jakarta, nanning" in message
    assert "unblock: ask the operator to lift restriction no-acme-in-singapore" in message
