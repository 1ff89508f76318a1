"""Per-tenant limits (a priority ceiling, a cap on pending jobs), tenant settings changed
through PATCH /v1/tenants/{name}, and /metrics behind a token; SQLite and PostgreSQL."""

from __future__ import annotations

import concurrent.futures
import json
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from silkroute.api.app import create_app
from silkroute.control.auth import Principal, Role
from silkroute.control.boot import open_platform
from silkroute.control.errors import ServiceError
from silkroute.control.service import Platform, add_site, create_tenant
from silkroute.control.submits import prepare
from silkroute.model.cluster import SiteSpec
from silkroute.model.tenant import TenantSpec
from silkroute.store.models import AuditRecordRow, JobRow
from tests.platform.conftest import WAIT_S, Api
from tests.platform.test_cli import CliRefusal, cli

LAB = {
    "name": "lab",
    "country": "SG",
    "nodes": [{"count": 1, "accelerator": "A800", "accelerators": 2, "cpu": 16}],
    "price_per_accelerator_hour": {"A800": 1.0},
}


def jobs_of(api: Api, tenant: str) -> list[JobRow]:
    with api.platform.store.session() as session:
        return list(session.scalars(select(JobRow).where(JobRow.tenant == tenant)))


def staff_token(api: Api, role: str) -> str:
    got = api.client.post("/v1/tokens", json={"role": role}, headers=api.admin_headers())
    assert got.status_code == 201, got.text
    token: str = got.json()["token"]
    return token


def patch(api: Api, name: str, body: dict[str, Any], token: str | None = None) -> Any:
    headers = api.as_(token) if token is not None else api.admin_headers()
    return api.client.patch(f"/v1/tenants/{name}", json=body, headers=headers)


# ----- the priority ceiling ------------------------------------------------------------------
@dataclass(frozen=True)
class Ceiling:
    name: str
    tenant_fields: dict[str, Any]  # at creation; {} is the default ceiling ("normal")
    priority: str | int
    accepted: bool


CEILINGS = [
    Ceiling("the default ceiling takes normal", {}, "normal", True),
    Ceiling("the default ceiling takes low", {}, "low", True),
    Ceiling("the default ceiling takes normal's value as an integer", {}, 200, True),
    Ceiling("the default ceiling refuses high", {}, "high", False),
    Ceiling("the default ceiling refuses one above normal", {}, 201, False),
    Ceiling("the default ceiling refuses critical", {}, "critical", False),
    Ceiling("the default ceiling refuses a billion", {}, 10**9, False),
    Ceiling("a high ceiling takes high", {"max_priority": "high"}, "high", True),
    Ceiling("a high ceiling takes 300", {"max_priority": "high"}, 300, True),
    Ceiling("a high ceiling refuses 301", {"max_priority": "high"}, 301, False),
    Ceiling("a high ceiling refuses critical", {"max_priority": "high"}, "critical", False),
    Ceiling("an integer ceiling takes itself", {"max_priority": 250}, 250, True),
    Ceiling("an integer ceiling takes normal", {"max_priority": 250}, "normal", True),
    Ceiling("an integer ceiling refuses high", {"max_priority": 250}, "high", False),
    Ceiling("no ceiling takes critical", {"max_priority": None}, "critical", True),
    Ceiling("no ceiling takes a billion", {"max_priority": None}, 10**9, True),
]


@pytest.mark.parametrize("role", ["tenant", "operator", "admin"])
@pytest.mark.parametrize("case", CEILINGS, ids=lambda c: c.name)
def test_the_priority_ceiling_holds_for_every_submitter(api: Api, case: Ceiling, role: str) -> None:
    api.add_sites([LAB])
    token = api.tenant("acme", **case.tenant_fields)
    submitter = {"tenant": token, "operator": staff_token(api, "operator"), "admin": api.admin}
    got = api.submit(
        submitter[role], tenant="acme", priority=case.priority, accelerators_per_worker=0
    )
    if case.accepted:
        assert got.status_code == 201, got.text
        assert len(jobs_of(api, "acme")) == 1
        return
    assert got.status_code == 403, got.text
    body = got.json()
    assert body["code"] == "priority_above_ceiling"
    assert body["errors"][0]["field"] == "priority"
    assert "acme" in body["message"] and "ceiling" in body["message"]
    ceiling = case.tenant_fields.get("max_priority", "normal")
    assert str(ceiling) in body["message"]
    assert jobs_of(api, "acme") == []  # nothing stored


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("priority", [10**9 + 1, -(10**9) - 1, 2**63])
def test_integer_priorities_are_bounded(api: Api, priority: int) -> None:
    api.add_sites([LAB])
    token = api.tenant("acme", max_priority=None)
    got = api.submit(token, priority=priority, accelerators_per_worker=0)
    assert got.status_code == 422, got.text
    assert got.json()["errors"][0]["field"].startswith("priority")
    assert jobs_of(api, "acme") == []


def test_a_raised_ceiling_preempts_and_the_default_cannot_even_submit(api: Api) -> None:
    api.add_sites([LAB])
    owner = api.tenant("owner", max_priority="low")
    raised = api.tenant("raised", max_priority="high")
    plain = api.tenant("plain")
    victim = api.submit(
        owner,
        name="victim",
        command="sleep 60",
        accelerators_per_worker=2,
        priority="low",
        preemptible=True,
    ).json()["id"]
    api.wait_for(owner, victim, ("running",))
    refused = api.submit(
        plain, name="jump", command="true", accelerators_per_worker=2, priority="high"
    )
    assert refused.status_code == 403, refused.text
    assert api.job(owner, victim)["state"] == "running"  # untouched by the refused submit
    urgent = api.submit(
        raised, name="urgent", command="true", accelerators_per_worker=2, priority="high"
    )
    assert urgent.status_code == 201, urgent.text
    done = api.wait_for(raised, urgent.json()["id"], ("succeeded", "failed"))
    assert done["state"] == "succeeded", done
    history = api.job(owner, victim)
    assert "terminating" in [e["state"] for e in history["events"]], history["events"]
    api.client.delete(f"/v1/jobs/{victim}", headers=api.as_(owner))
    api.wait_for(owner, victim, ("cancelled",))


def test_lowering_a_ceiling_leaves_accepted_jobs_alone(api: Api) -> None:
    api.add_sites([LAB])
    api.client.post("/v1/sites/lab/drain", headers=api.admin_headers())  # keep them pending
    token = api.tenant("acme", max_priority="critical")
    first = api.submit(token, priority="critical", accelerators_per_worker=0)
    assert first.status_code == 201, first.text
    assert patch(api, "acme", {"max_priority": "low"}).status_code == 200
    again = api.submit(token, priority="critical", accelerators_per_worker=0)
    assert again.status_code == 403, again.text
    assert api.job(token, first.json()["id"])["state"] == "pending"
    assert api.job(token, first.json()["id"])["spec"]["priority"] == "critical"


# ----- the pending cap -----------------------------------------------------------------------
def test_the_pending_cap_refuses_at_the_limit_and_frees_up_as_jobs_start(api: Api) -> None:
    api.add_sites([LAB])
    drained = api.client.post("/v1/sites/lab/drain", headers=api.admin_headers())
    assert drained.status_code == 200, drained.text
    token = api.tenant("acme", max_pending_jobs=2)
    cpu = {"accelerators_per_worker": 0, "command": "true"}
    kept = api.client.post(
        "/v1/jobs",
        json={"name": "a", **cpu},
        headers={**api.as_(token), "Idempotency-Key": "a"},
    )
    assert kept.status_code == 201, kept.text
    assert api.submit(token, name="b", **cpu).status_code == 201
    full = api.submit(token, name="c", **cpu)
    assert full.status_code == 429, full.text
    body = full.json()
    assert body["code"] == "too_many_pending"
    assert body["errors"][0]["field"] == "max_pending_jobs"
    assert "at most 2" in body["message"]
    # A retry of an accepted submit is answered with its job, not refused.
    retry = api.client.post(
        "/v1/jobs",
        json={"name": "a", **cpu},
        headers={**api.as_(token), "Idempotency-Key": "a"},
    )
    assert retry.status_code == 200 and retry.json()["id"] == kept.json()["id"]
    assert sorted(j.name for j in jobs_of(api, "acme")) == ["a", "b"]
    # A cancelled pending job frees its place.
    api.client.delete(f"/v1/jobs/{kept.json()['id']}", headers=api.as_(token))
    api.wait_for(token, kept.json()["id"], ("cancelled",))
    assert api.submit(token, name="d", **cpu).status_code == 201
    assert api.submit(token, name="e", **cpu).status_code == 429
    # Jobs that start (or end) free theirs.
    api.client.post("/v1/sites/lab/undrain", headers=api.admin_headers())
    for job in jobs_of(api, "acme"):
        api.wait_for(token, job.id, ("succeeded", "cancelled"))
    assert api.submit(token, name="f", **cpu).status_code == 201


def test_a_replica_group_that_would_pass_the_cap_stores_nothing(api: Api) -> None:
    api.add_sites([LAB])
    api.client.post("/v1/sites/lab/drain", headers=api.admin_headers())
    token = api.tenant("acme", max_pending_jobs=3)
    serve = {"kind": "inference", "accelerators_per_worker": 0, "command": "true"}
    assert api.submit(token, name="one", **serve).status_code == 201
    group = api.submit(token, name="three", replicas=3, **serve)
    assert group.status_code == 429, group.text
    assert "group of 3 jobs" in group.json()["message"]
    assert [j.name for j in jobs_of(api, "acme")] == ["one"]
    fits = api.submit(token, name="two", replicas=2, **serve)
    assert fits.status_code == 201, fits.text
    assert len(jobs_of(api, "acme")) == 3


def test_concurrent_submits_through_two_servers_never_pass_the_cap(
    tmp_path: Path, db_url: str | None
) -> None:
    """Two platforms (two server processes' worth: each its own engine and submit writer)
    on one database, three threads each: exactly `cap` jobs are stored."""
    cap, threads, per_thread = 5, 3, 6
    first = open_platform(tmp_path / "a", db_url)
    second = open_platform(tmp_path / "b", first.store.url)
    admin = Principal(Role.ADMIN)
    try:
        add_site(first, admin, SiteSpec.model_validate(LAB))
        create_tenant(
            first, admin, TenantSpec(name="acme", country="SG"), None, max_pending_jobs=cap
        )
        start = threading.Barrier(2 * threads)

        def submit_many(platform: Platform, worker: int) -> list[int]:
            start.wait()
            statuses = []
            for n in range(per_thread):
                body = {
                    "name": f"w{worker}-{n}",
                    "tenant": "acme",
                    "command": "true",
                    "accelerators_per_worker": 0,
                }
                try:
                    platform.submits.submit(prepare(admin, body, None)).result(timeout=60)
                    statuses.append(201)
                except ServiceError as exc:
                    statuses.append(exc.status)
            return statuses

        with concurrent.futures.ThreadPoolExecutor(2 * threads) as pool:
            futures = [
                pool.submit(submit_many, platform, i)
                for i, platform in enumerate([first, second] * threads)
            ]
            statuses = [s for f in futures for s in f.result()]
        assert statuses.count(201) == cap, statuses
        assert statuses.count(429) == 2 * threads * per_thread - cap, statuses
        with first.store.session() as session:
            stored = session.scalar(select(func.count()).select_from(JobRow))
        assert stored == cap
    finally:
        for platform in (first, second):
            platform.submits.close()
            platform.store.close()


# ----- PATCH /v1/tenants/{name} -------------------------------------------------------------
@dataclass(frozen=True)
class Change:
    name: str
    body: dict[str, Any]
    shown: dict[str, Any]  # what GET /v1/tenants/{name} answers afterwards


CHANGES = [
    Change("the weight", {"weight": 2.5}, {"weight": 2.5}),
    Change("the quota, canonical names", {"quota": {"h100": 8}}, {"quota": {"H100": 8.0}}),
    Change("the quota, cleared", {"quota": {}}, {"quota": {}}),
    Change(
        "the voucher hours", {"voucher_accelerator_hours": 12}, {"voucher_accelerator_hours": 12}
    ),
    Change("pay as you go", {"pay_as_you_go": False}, {"pay_as_you_go": False}),
    Change("the monthly budget", {"monthly_budget": 100}, {"monthly_budget": 100.0}),
    Change("the monthly budget, removed", {"monthly_budget": None}, {"monthly_budget": None}),
    Change("a class ceiling", {"max_priority": "high"}, {"max_priority": "high"}),
    Change("an integer ceiling", {"max_priority": 300}, {"max_priority": 300}),
    Change("no ceiling", {"max_priority": None}, {"max_priority": None}),
    Change("the pending cap", {"max_pending_jobs": 5}, {"max_pending_jobs": 5}),
    Change("no pending cap", {"max_pending_jobs": None}, {"max_pending_jobs": None}),
    Change(
        "two fields at once",
        {"weight": 3, "max_pending_jobs": 0},
        {"weight": 3.0, "max_pending_jobs": 0},
    ),
]


@pytest.mark.parametrize("case", CHANGES, ids=lambda c: c.name)
def test_an_admin_changes_each_setting_and_the_audit_log_records_it(api: Api, case: Change) -> None:
    api.tenant("acme", monthly_budget=50, quota={"A800": 1})
    before = api.client.get("/v1/tenants/acme", headers=api.admin_headers()).json()
    got = patch(api, "acme", case.body)
    assert got.status_code == 200, got.text
    after = api.client.get("/v1/tenants/acme", headers=api.admin_headers()).json()
    assert got.json() == after
    for key, value in case.shown.items():
        assert after[key] == value, key
    untouched = set(before) - set(case.shown)
    assert {k: after[k] for k in untouched} == {k: before[k] for k in untouched}
    with api.platform.store.session() as session:
        rows = list(
            session.scalars(select(AuditRecordRow).where(AuditRecordRow.subject == "tenant/acme"))
        )
    detail = json.loads(rows[-1].detail)
    assert rows[-1].kind == "admin" and detail["action"] == "tenant update"
    changed = {k for k in case.shown if before[k] != after[k]}
    assert set(detail["changes"]) == changed
    for key in changed:
        assert detail["changes"][key] == {"from": before[key], "to": after[key]}


@dataclass(frozen=True)
class BadChange:
    name: str
    body: Any
    field: str


BAD_CHANGES = [
    BadChange("a zero weight", {"weight": 0}, "weight"),
    BadChange("a null weight", {"weight": None}, "weight"),
    BadChange("a null quota", {"quota": None}, "quota"),
    BadChange("a negative quota", {"quota": {"H100": -1}}, 'quota["H100"]'),
    BadChange(
        "negative voucher hours", {"voucher_accelerator_hours": -1}, "voucher_accelerator_hours"
    ),
    BadChange("a negative budget", {"monthly_budget": -5}, "monthly_budget"),
    BadChange("an unknown priority class", {"max_priority": "urgent"}, "max_priority"),
    BadChange("a ceiling past the bound", {"max_priority": 10**10}, "max_priority"),
    BadChange("a negative pending cap", {"max_pending_jobs": -1}, "max_pending_jobs"),
    BadChange("a fractional pending cap", {"max_pending_jobs": 1.5}, "max_pending_jobs"),
    BadChange("an unknown field", {"colour": "red"}, "colour"),
    BadChange("a field that cannot change", {"country": "TH"}, "country"),
    BadChange("nothing to change", {}, "(body)"),
]


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("case", BAD_CHANGES, ids=lambda c: c.name)
def test_a_bad_change_is_refused_naming_the_field_and_changes_nothing(
    api: Api, case: BadChange
) -> None:
    api.tenant("acme")
    before = api.client.get("/v1/tenants/acme", headers=api.admin_headers()).json()
    got = patch(api, "acme", case.body)
    assert got.status_code == 422, got.text
    fields = [e["field"] for e in got.json()["errors"]]
    assert case.field in fields, fields
    assert api.client.get("/v1/tenants/acme", headers=api.admin_headers()).json() == before


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_who_may_change_a_tenant(api: Api) -> None:
    token = api.tenant("acme")
    operator = staff_token(api, "operator")
    body = {"max_priority": "critical"}
    assert patch(api, "acme", body, token).status_code == 403  # its own: it may see it
    assert patch(api, "acme", body, operator).status_code == 403  # operators: sites and jobs
    assert patch(api, "ghost", body).status_code == 404
    assert api.client.patch("/v1/tenants/acme", json=body).status_code == 401
    unchanged = api.client.get("/v1/tenants/acme", headers=api.admin_headers()).json()
    assert unchanged["max_priority"] == "normal"
    assert patch(api, "acme", body).status_code == 200


def wait_for_hold(api: Api, token: str, job_id: int, reason: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while api.job(token, job_id)["hold_reason"] != reason:
        assert time.monotonic() < deadline, api.job(token, job_id)
        time.sleep(0.05)


def test_a_changed_quota_changes_what_the_next_pass_admits(api: Api) -> None:
    four = {**LAB, "nodes": [{"count": 1, "accelerator": "A800", "accelerators": 4, "cpu": 16}]}
    api.add_sites([four])
    token = api.tenant("acme", quota={"A800": 1})
    one_a800 = {"command": "sleep 300", "accelerators_per_worker": 1}  # cancelled at the end
    first = api.submit(token, **one_a800).json()["id"]
    api.wait_for(token, first, ("running",))
    second = api.submit(token, **one_a800).json()["id"]
    wait_for_hold(api, token, second, "quota-exceeded")
    assert patch(api, "acme", {"quota": {"A800": 2}}).status_code == 200  # raised: it starts
    api.wait_for(token, second, ("running",))
    # Lowered: what runs keeps running; the next job waits for the quota, not for room.
    assert patch(api, "acme", {"quota": {"A800": 1}}).status_code == 200
    third = api.submit(token, **one_a800).json()["id"]
    wait_for_hold(api, token, third, "quota-exceeded")
    assert api.job(token, first)["state"] == api.job(token, second)["state"] == "running"
    # The book the next pass schedules with carries the new weight and voucher grant.
    change = {"weight": 4, "voucher_accelerator_hours": 7, "pay_as_you_go": False}
    assert patch(api, "acme", change).status_code == 200
    deadline = time.monotonic() + WAIT_S
    while True:
        book = api.platform.loop.scheduler.book
        account = book.tenants.get("acme") if book is not None else None
        if account is not None and account.weight == 4:
            break
        assert time.monotonic() < deadline, "the loop never took the new weight"
        time.sleep(0.05)
    assert account.voucher_gpu_s == 7 * 3600 and not account.pay_as_you_go
    assert account.quota == {"A800": 1}
    for j in (first, second, third):
        api.client.delete(f"/v1/jobs/{j}", headers=api.as_(token))
        api.wait_for(token, j, ("cancelled",))


# ----- /metrics ------------------------------------------------------------------------------
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_metrics_need_an_operator_or_admin_token(api: Api) -> None:
    tenant = api.tenant("acme")
    operator = staff_token(api, "operator")
    assert api.client.get("/metrics").status_code == 401
    assert api.client.get("/metrics", headers=api.as_("sr_wrong")).status_code == 401
    refused = api.client.get("/metrics", headers=api.as_(tenant))
    assert refused.status_code == 403 and "acme" not in refused.text
    for token in (operator, api.admin):
        got = api.client.get("/metrics", headers=api.as_(token))
        assert got.status_code == 200 and "silkroute_queue_length" in got.text
    assert api.client.get("/healthz").status_code == 200


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_public_metrics_serve_without_a_token(api: Api) -> None:
    # No lifespan (no `with`): the `api` fixture's app owns the loop and the submit writer.
    client = TestClient(create_app(api.platform, run_loop=False, public_metrics=True))
    got = client.get("/metrics")
    assert got.status_code == 200 and "silkroute_running_jobs" in got.text
    assert client.get("/v1/tenants").status_code == 401  # only /metrics is opened
    assert client.get("/healthz").status_code == 200


# ----- the CLI ---------------------------------------------------------------------------------
def test_the_cli_creates_and_updates_a_tenants_limits(api: Api, server_url: str) -> None:
    code, out = cli(
        server_url,
        api.admin,
        "tenant",
        "create",
        "acme",
        "--country",
        "SG",
        "--max-priority",
        "high",
        "--max-pending-jobs",
        "3",
    )
    assert code == 0, out
    code, out = cli(
        server_url,
        api.admin,
        "tenant",
        "update",
        "acme",
        "--weight",
        "2",
        "--quota",
        "h100=8",
        "--quota",
        "*=16",
        "--budget",
        "10",
        "--vouchers-only",
        "--max-priority",
        "none",
        "--max-pending-jobs",
        "5",
        "--json",
    )
    assert code == 0, out
    shown = json.loads(out)
    assert shown["weight"] == 2 and shown["quota"] == {"H100": 8, "*": 16}
    assert shown["monthly_budget"] == 10 and shown["pay_as_you_go"] is False
    assert shown["max_priority"] is None and shown["max_pending_jobs"] == 5
    code, out = cli(server_url, api.admin, "tenant", "update", "acme", "--max-priority", "300")
    assert code == 0 and "300" in out, out
    code, out = cli(server_url, api.admin, "tenant", "list")
    assert code == 0 and "max pending" in out and "300" in out, out


CLI_REFUSALS = [
    CliRefusal("no option", (), "nothing to change"),
    CliRefusal("a cap that is not a number", ("--max-pending-jobs", "lots"), "--max-pending-jobs"),
    CliRefusal("a negative cap", ("--max-pending-jobs", "-1"), "--max-pending-jobs"),
    CliRefusal("an unknown class", ("--max-priority", "urgent"), "max_priority"),
    CliRefusal("a quota without a number", ("--quota", "H100"), "--quota"),
    CliRefusal("a budget that is not a number", ("--budget", "much"), "--budget"),
]


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("case", CLI_REFUSALS, ids=lambda c: c.name)
def test_the_cli_refuses_a_bad_update_in_one_line(
    api: Api, server_url: str, case: CliRefusal
) -> None:
    api.tenant("acme")
    code, out = cli(server_url, api.admin, "tenant", "update", "acme", *case.args)
    assert code == 2 and case.says in out and out.count("\n") == 1, out


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_tenant_cannot_raise_its_own_ceiling_from_the_cli(api: Api, server_url: str) -> None:
    token = api.tenant("acme")
    code, out = cli(server_url, token, "tenant", "update", "acme", "--max-priority", "critical")
    assert code == 2 and "HTTP 403" in out, out
