"""Every data decision reaches the audit log, refusals at submit included; a job that
operator policies bar everywhere is held (inadmissible) with a reason naming the policy."""

from __future__ import annotations

import datetime as dt
import json
import time
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import select

from silkroute.audit.log import verify
from silkroute.control import governance
from silkroute.policy.vocabulary import DataClass
from silkroute.store.audit import SqlAuditStore
from silkroute.store.models import AuditRecordRow, JobRow, TransferRow
from tests.platform.conftest import WAIT_S, Api
from tests.platform.test_governance_platform import VN_HEALTH, _wait_for_hold, count, post


def records(api: Api, kind: str) -> list[dict[str, Any]]:
    with api.platform.store.session() as session:
        rows = session.scalars(
            select(AuditRecordRow).where(AuditRecordRow.kind == kind).order_by(AuditRecordRow.seq)
        ).all()
        return [{"actor": r.actor, "subject": r.subject, **json.loads(r.detail)} for r in rows]


def data_decisions(api: Api) -> list[dict[str, Any]]:
    return records(api, "data-decision")


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
    assert last["accepts_sites"] == case.sites
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


def use_operator_policies(api: Api, text: str | None) -> None:
    """Give the loop operator policies and wait until its scheduler decides with them (a pass
    already under way when they change still decides with the old ones)."""
    loop = api.platform.loop
    loop.operator_policies = text
    loop.governance_changed()
    deadline = time.monotonic() + WAIT_S
    while True:
        governance = loop.scheduler.governance
        operator = governance.operator if governance is not None else None
        if (operator.text if operator is not None else None) == text:
            return
        assert time.monotonic() < deadline, "the loop never took the operator policies"
        time.sleep(0.02)


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
    use_operator_policies(api, BAR_ACME)
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
    use_operator_policies(api, None)
    assert api.wait_for(acme, job["id"], ("succeeded",))["hold_reason"] is None


def test_a_job_barred_by_several_operator_policies_names_each(api: Api) -> None:
    api.add_sites()
    acme = api.tenant("acme")
    use_operator_policies(
        api,
        '@id("no-acme-in-singapore")\n'
        'forbid (principal == Tenant::"acme", action, resource == Site::"singapore");\n'
        '@id("acme-only-singapore")\n'
        '@reason("acme contracted for singapore only")\n'
        'forbid (principal == Tenant::"acme", action, resource)\n'
        'unless { resource == Site::"singapore" };\n',
    )
    got = api.submit(acme, command="true")
    assert got.status_code == 201, got.text
    job = _wait_for_hold(api, acme, got.json()["id"])
    message = job["hold_message"]
    assert message.startswith("inadmissible: operator policies bar every site it may use")
    assert "operator policy no-acme-in-singapore at singapore" in message
    assert "operator policy acme-only-singapore at bangkok, hanoi, jakarta, nanning" in message
    assert "unblock: ask the operator to lift restriction no-acme-in-singapore" in message


# ----- the yearly count of data subjects sent abroad ------------------------------------------
def cn_personal(name: str, subjects: int = 60_000) -> dict[str, Any]:
    return {"name": name, "origin": "CN", "data_class": "personal", "subjects": subjects}


def transfers(api: Api) -> list[tuple[str, str, int, int, str]]:
    with api.platform.store.session() as session:
        rows = session.scalars(select(TransferRow).order_by(TransferRow.id)).all()
        return [(r.tenant, r.dataset, r.subjects, r.year, r.destination) for r in rows]


def test_two_jobs_each_under_the_threshold_together_over_it_the_second_is_held(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    api.add_sites()
    acme = api.tenant("acme")
    for name in ("cn-a", "cn-b", "cn-c"):
        assert post(api, acme, "/v1/datasets", cn_personal(name)).status_code == 201
    # The count runs in China's calendar (UTC+8), whatever the server's clock says.
    year = governance.rule_book().files["CN"].local_day(governance.now()).year
    # Only singapore (SG) has H100s: each job sends its 60,000 subjects abroad.
    first = api.submit(acme, datasets=["cn-a"], accelerator_types=["H100"], command="true")
    assert first.status_code == 201, first.text
    assert api.wait_for(acme, first.json()["id"], ("succeeded",))["site"] == "singapore"
    assert transfers(api) == [("acme", "cn-a", 60_000, year, "SG")]
    placed = [r for r in records(api, "placement") if r["subject"] == f"job/{first.json()['id']}"]
    assert placed[0]["sent_abroad"][0]["dataset"] == "cn-a"
    # Re-running the same dataset is not a new export.
    again = api.submit(acme, datasets=["cn-a"], accelerator_types=["H100"], command="true")
    assert api.wait_for(acme, again.json()["id"], ("succeeded",))["site"] == "singapore"
    assert len(transfers(api)) == 1
    # The second dataset would take the year to 120,000: the standard contract is needed.
    second = api.submit(acme, datasets=["cn-b"], accelerator_types=["H100"], command="true")
    assert second.status_code == 201, second.text  # lawful at home (nanning): accepted
    held = _wait_for_hold(api, acme, second.json()["id"])
    assert held["hold_reason"] == "data-law:CN-2024-PI-CONTRACT"
    assert "hold scc+cac_filing or certification or cac_assessment" in held["hold_message"]
    only_abroad = api.submit(acme, datasets=["cn-c"], sites=["singapore"])
    assert only_abroad.status_code == 409 and "CN-2024-PI-CONTRACT" in only_abroad.text
    explained = api.client.get(f"/v1/jobs/{held['id']}/explain", headers=api.as_(acme)).json()
    assert explained["sent_abroad_this_year"] == {
        "year": year,
        "subjects": [{"origin": "CN", "data_class": "personal", "subjects": 60_000, "year": year}],
        "datasets": ["cn-a"],
    }
    assert (
        f"sent abroad by acme in {year} (since 1 January): CN personal 60,000 subjects (cn-a)"
        in explained["lines"]
    )
    # The count is in the store: a book rebuilt from it (as at a restart) holds the job too.
    before = api.platform.loop.scheduler
    api.platform.loop.request_rebuild()
    deadline = time.monotonic() + WAIT_S
    while api.platform.loop.scheduler is before:
        assert time.monotonic() < deadline, "the loop never rebuilt its book"
        time.sleep(0.02)
    rebuilt = api.platform.loop.scheduler.governance
    assert rebuilt is not None
    assert rebuilt.tenant("acme").exported == {("CN", DataClass.PERSONAL): 60_000}
    assert rebuilt.tenant("acme").exported_datasets == {"cn-a"}
    assert api.job(acme, held["id"])["state"] == "pending"
    # A new calendar year starts the count again: at 16:30 UTC on 31 December it is already
    # 1 January in Beijing, so the held job goes abroad, counted in China's new year.
    new_year_in_beijing = dt.datetime(year, 12, 31, 16, 30, tzinfo=dt.UTC)
    monkeypatch.setattr(governance, "now", lambda: new_year_in_beijing)
    api.platform.loop.wake()
    done = api.wait_for(acme, held["id"], ("succeeded",))
    assert done["site"] == "singapore"
    assert transfers(api)[-1] == ("acme", "cn-b", 60_000, year + 1, "SG")
