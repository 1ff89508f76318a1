"""The live loop's book and the ledger agree on a tenant's voucher hours at every moment.

The ledger charges a run when it ends, from its engine's start to its engine's end: the grace
between a stop decision and the run's end included, the wait between a placement and the
engine's start not. The book the scheduler admits by must learn the same hours in the same
pass, however the run ended, not only when it is next built from the store; else a tenant that
lives on vouchers is admitted for work its vouchers no longer cover (or refused while some
remain). Real store (SQLite and PostgreSQL) and live loop, driven pass by pass; the test plays
the sites' engines, reporting through the agents' own report path (`control/agents.py`) at the
times it chooses, with real pauses where a real engine takes time (a start, a grace period).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from silkroute.api.app import create_app
from silkroute.control import agents
from silkroute.control.auth import Principal, Role
from silkroute.control.boot import init_admin, open_platform
from silkroute.scheduler.tenants import TenantAccount
from silkroute.store.models import JobRow, LedgerRow, RunRow
from tests.platform.conftest import Api

HOUR = 3600.0
# Long against a pass, and apart: a book that billed one for the other would not agree.
START_S = 0.1  # from a placement to the engine's start (not billed)
WORK_S = 0.3  # a run's work before it is stopped
GRACE_S = 0.5  # from a stop decision (SIGTERM) to the run's end (billed)
# Two nodes of eight H100s: a tenant's job takes one; an urgent two-node job preempts it.
LAB = {
    "name": "lab",
    "country": "SG",
    "nodes": [{"count": 2, "accelerator": "H100", "accelerators": 8, "cpu": 32}],
    "price_per_accelerator_hour": {"H100": 3.2},
}
# A vouchers-only tenant's job needs a time limit its vouchers cover (8 x 300 s of 3,600).
ONE_NODE = {
    "accelerator_types": ["H100"],
    "accelerators_per_worker": 8,
    "preemptible": True,
    "time_limit_s": 300,
}
BOTH_NODES = {"accelerator_types": ["H100"], "accelerators_per_worker": 8, "workers": 2}
VOUCHERS_ONLY = {"voucher_accelerator_hours": 1.0, "pay_as_you_go": False}
TENANT = "incubatee"


@pytest.fixture
def driven(tmp_path: Path, db_url: str | None) -> Iterator[Api]:
    """A platform whose live loop makes a pass only when the test calls it, with no embedded
    agents: the test reports for the engines. A remote agent silent for 2.1 s has its runs
    written off (lease 1 s, grace 0.1 s, margin 1 s)."""
    platform = open_platform(
        tmp_path / "data", db_url, grace_s=0.1, agent_timeout_s=1.0, budget_stops_running=True
    )
    platform.loop.companions.clear()
    platform.loop.poll_s = 0.0  # reports, time limits and budgets looked at in every pass
    admin = init_admin(platform)
    assert admin is not None
    with TestClient(create_app(platform, run_loop=False)) as client:
        yield Api(client, platform, admin, tmp_path / "data")
    platform.store.close()


# ----- playing the engines -------------------------------------------------------------------
def run_once(api: Api, now: float | None = None) -> None:
    api.platform.loop.run_once(now=now)


def current_run(api: Api, job_id: int) -> RunRow:
    with api.platform.store.session() as session:
        job = session.get(JobRow, job_id)
        assert job is not None and job.current_run is not None, job_id
        run = session.get(RunRow, job.current_run)
        assert run is not None
        return run


def report(api: Api, run: RunRow, state: str, **fields: Any) -> None:
    """What the run's agent would send: its engine's state and times."""
    agent = Principal(Role.AGENT, site=run.site)
    body = {"state": state, **fields}
    assert agents.report(api.platform, agent, run.run_id, body)["accepted"]


def start_job(api: Api, token: str, **fields: Any) -> tuple[int, float]:
    """Submit, place (a pass), and report the run started after the engine's start-up time;
    returns the job and its engine start."""
    job_id = api.submit(token, **{**ONE_NODE, **fields}).json()["id"]
    run_once(api)
    assert api.job(token, job_id)["state"] == "starting"
    time.sleep(START_S)  # the engine takes its time: none of it is billed
    started = time.time()
    report(api, current_run(api, job_id), "running", started_at=started)
    run_once(api)
    assert api.job(token, job_id)["state"] == "running"
    return job_id, started


def end_run(api: Api, job_id: int, state: str, started: float, **fields: Any) -> None:
    """The run's engine ends it now and the agent says so; the loop takes it in."""
    ended = time.time()
    report(api, current_run(api, job_id), state, started_at=started, ended_at=ended, **fields)
    run_once(api)


def setup(api: Api, tenant: dict[str, Any], remote: bool = False) -> tuple[str, str]:
    """The lab, the tenant under test and an urgent one; the book built (a pass)."""
    api.add_sites([LAB])
    token = api.tenant(TENANT, **tenant)
    urgent = api.tenant("urgent", max_priority="high")
    if remote:  # an agent serves the lab: silent past its lease, its runs are written off
        admin = Principal(Role.ADMIN)
        agents.issue_agent_token(api.platform, admin, "lab")
        agents.heartbeat(api.platform, Principal(Role.AGENT, site="lab"), {"backend": "local"})
    run_once(api)
    return token, urgent


# ----- what the book and the ledger say --------------------------------------------------------
def account(api: Api, tenant: str) -> TenantAccount:
    book = api.platform.loop.scheduler.book
    assert book is not None
    return book.tenants.get(tenant)


@dataclass(frozen=True)
class Ledger:
    runs: int
    accelerator_hours: float
    voucher_hours: float


def ledger(api: Api, tenant: str) -> Ledger:
    with api.platform.store.session() as session:
        rows = session.scalars(select(LedgerRow).where(LedgerRow.tenant == tenant)).all()
        return Ledger(
            len(rows), sum(r.accelerator_hours for r in rows), sum(r.voucher_hours for r in rows)
        )


def assert_book_agrees_with_ledger(api: Api, tenant: str, granted: float, runs: int) -> None:
    """The book's voucher balance is the grant less the ledger's voucher hours, and the
    service it counts is what the ledger billed (every row written since it was built)."""
    billed = ledger(api, tenant)
    assert billed.runs == runs
    held = account(api, tenant)
    assert held.consumed_gpu_s / HOUR == pytest.approx(billed.accelerator_hours, abs=1e-12), (
        f"the book counts {held.consumed_gpu_s:.4f} accelerator-seconds, the ledger billed "
        f"{billed.accelerator_hours * HOUR:.4f}"
    )
    left = max(0.0, held.voucher_gpu_s - held.consumed_gpu_s) / HOUR
    assert left == pytest.approx(max(0.0, granted - billed.voucher_hours), abs=1e-12)


# ----- each way a run ends ---------------------------------------------------------------------
@dataclass(frozen=True)
class EndCase:
    name: str
    play: Callable[[Api, str, str], None]  # from a running job of the tenant to its run's end
    tenant: dict[str, Any]
    remote: bool = False


def finishes(api: Api, token: str, urgent: str) -> None:
    job_id, started = start_job(api, token)
    time.sleep(WORK_S)
    end_run(api, job_id, "succeeded", started, exit_code=0)
    assert api.job(token, job_id)["state"] == "succeeded"


def is_preempted(api: Api, token: str, urgent: str) -> None:
    job_id, started = start_job(api, token)
    time.sleep(WORK_S)
    api.submit(urgent, name="urgent", priority="high", **BOTH_NODES)
    run_once(api)  # the decision: SIGTERM now, the run holds its node through its grace
    assert api.job(token, job_id)["state"] == "terminating"
    time.sleep(GRACE_S)
    end_run(api, job_id, "cancelled", started)
    assert api.job(token, job_id)["state"] == "pending"


def is_cancelled(api: Api, token: str, urgent: str) -> None:
    job_id, started = start_job(api, token)
    time.sleep(WORK_S)
    assert api.client.delete(f"/v1/jobs/{job_id}", headers=api.as_(token)).status_code == 202
    run_once(api)
    assert api.job(token, job_id)["state"] == "terminating"
    time.sleep(GRACE_S)
    end_run(api, job_id, "cancelled", started)
    assert api.job(token, job_id)["state"] == "cancelled"


def spends_its_budget(api: Api, token: str, urgent: str) -> None:
    job_id, started = start_job(api, token)
    time.sleep(2 * WORK_S)  # past its vouchers (8 accelerators for 0.36 s) and its budget
    run_once(api)  # stopped as a preemption (`budget_stops_running`)
    assert api.job(token, job_id)["state"] == "terminating"
    time.sleep(GRACE_S)
    end_run(api, job_id, "cancelled", started)
    job = api.job(token, job_id)
    assert (job["state"], job["hold_reason"]) == ("pending", "budget-exhausted"), job


def stops_across_a_rebuild(api: Api, token: str, urgent: str) -> None:
    job_id, started = start_job(api, token)
    time.sleep(WORK_S)
    assert api.client.delete(f"/v1/jobs/{job_id}", headers=api.as_(token)).status_code == 202
    run_once(api)
    changed = api.client.patch(
        f"/v1/tenants/{TENANT}", json={"weight": 2}, headers=api.admin_headers()
    )
    assert changed.status_code == 200, changed.text
    run_once(api)  # the book is built again from the store while the run stops
    time.sleep(GRACE_S)
    end_run(api, job_id, "cancelled", started)
    assert api.job(token, job_id)["state"] == "cancelled"


def loses_its_node(api: Api, token: str, urgent: str) -> None:
    job_id, started = start_job(api, token)
    node = current_run(api, job_id).placement[0][0]
    time.sleep(WORK_S)
    removed = api.client.post(
        "/v1/sites/lab/remove", json={"nodes": [node]}, headers=api.admin_headers()
    )
    assert removed.status_code == 200, removed.text
    run_once(api)  # fenced: out of the book, its run counted apart until confirmed gone
    assert api.job(token, job_id)["hold_reason"] == "fenced"
    assert account(api, TENANT).committed_gpu_s == 8 * 300.0  # what it may still be charged
    time.sleep(GRACE_S)
    end_run(api, job_id, "cancelled", started)
    assert api.job(token, job_id)["state"] in ("pending", "starting")


def loses_its_site(api: Api, token: str, urgent: str) -> None:
    job_id, _ = start_job(api, token)
    time.sleep(api.platform.loop.fence_s + WORK_S)  # the agent is silent past its lease
    run_once(api)  # written off at this pass: the ledger bills it up to now
    assert api.job(token, job_id)["state"] == "pending"


def is_refused_by_its_engine(api: Api, token: str, urgent: str) -> None:
    job_id = api.submit(token, **ONE_NODE).json()["id"]
    run_once(api)
    time.sleep(START_S)
    report(api, current_run(api, job_id), "failed", launch_failed=True, message="no such queue")
    run_once(api)
    job = api.job(token, job_id)
    assert (job["state"], job["attempts"]) == ("failed", 1), job  # (no retries asked for)


END_CASES = [
    EndCase("a run that finishes", finishes, VOUCHERS_ONLY),
    EndCase("a preempted run, through its grace period", is_preempted, VOUCHERS_ONLY),
    EndCase("a cancelled run, through its grace period", is_cancelled, VOUCHERS_ONLY),
    EndCase(
        "a run stopped because its tenant spent its budget",
        spends_its_budget,
        {"voucher_accelerator_hours": 0.0008, "monthly_budget": 0.000001},
    ),
    EndCase("a run still stopping when the book is rebuilt", stops_across_a_rebuild, VOUCHERS_ONLY),
    EndCase("a run fenced because its node was removed", loses_its_node, VOUCHERS_ONLY),
    EndCase("a run written off with its silent site", loses_its_site, VOUCHERS_ONLY, remote=True),
    EndCase("a run its engine refused to launch", is_refused_by_its_engine, VOUCHERS_ONLY),
]


@pytest.mark.parametrize("case", END_CASES, ids=lambda c: c.name)
def test_the_book_learns_what_the_ledger_charged_when_a_run_ends(
    driven: Api, case: EndCase
) -> None:
    token, urgent = setup(driven, case.tenant, case.remote)
    case.play(driven, token, urgent)
    granted = case.tenant["voucher_accelerator_hours"]
    assert_book_agrees_with_ledger(driven, TENANT, granted, runs=1)


# ----- many ends in a row ----------------------------------------------------------------------
def test_after_preemptions_and_a_cancel_the_books_voucher_balance_is_the_ledgers(
    driven: Api,
) -> None:
    token, urgent = setup(driven, VOUCHERS_ONLY)
    job_id, started = start_job(driven, token)
    for attempt in (1, 2):
        time.sleep(WORK_S)
        urgent_id = driven.submit(urgent, name="urgent", priority="high", **BOTH_NODES).json()["id"]
        run_once(driven)
        time.sleep(GRACE_S)
        end_run(driven, job_id, "cancelled", started)
        assert_book_agrees_with_ledger(driven, TENANT, 1.0, runs=attempt)
        run_once(driven)  # the urgent job takes both nodes, runs and ends
        urgent_started = time.time()
        report(driven, current_run(driven, urgent_id), "running", started_at=urgent_started)
        end_run(driven, urgent_id, "succeeded", urgent_started, exit_code=0)
        run_once(driven)  # the tenant's job is placed again: vouchers remain
        assert driven.job(token, job_id)["state"] == "starting"
        time.sleep(START_S)
        started = time.time()
        report(driven, current_run(driven, job_id), "running", started_at=started)
        run_once(driven)
    time.sleep(WORK_S)
    assert driven.client.delete(f"/v1/jobs/{job_id}", headers=driven.as_(token)).status_code == 202
    run_once(driven)
    time.sleep(GRACE_S)
    end_run(driven, job_id, "cancelled", started)
    assert driven.job(token, job_id)["state"] == "cancelled"
    assert_book_agrees_with_ledger(driven, TENANT, 1.0, runs=3)


# ----- what the drift let through --------------------------------------------------------------
def test_a_vouchers_only_tenant_whose_grace_period_spent_its_vouchers_is_not_admitted_again(
    driven: Api,
) -> None:
    """Placed at t, started at once, preempted at t+10 s, gone at t+70 s: the ledger bills
    8 x 70 accelerator-seconds of the 8 x 1,040 granted, so what is left no longer covers
    its 8 x 1,000 s time limit; before the book learned the grace it counted 8 x 10 and let
    the job start again."""
    granted = 8 * 1040.0 / HOUR
    token, urgent = setup(driven, {"voucher_accelerator_hours": granted, "pay_as_you_go": False})
    t = time.time() - 600.0  # every event in the past: the engine's times stand as reported
    job_id = driven.submit(token, **{**ONE_NODE, "time_limit_s": 1000}).json()["id"]
    run_once(driven, now=t)
    report(driven, current_run(driven, job_id), "running", started_at=t)
    run_once(driven, now=t + 1.0)
    urgent_id = driven.submit(urgent, name="urgent", priority="high", **BOTH_NODES).json()["id"]
    run_once(driven, now=t + 10.0)
    assert driven.job(token, job_id)["state"] == "terminating"
    report(driven, current_run(driven, job_id), "cancelled", started_at=t, ended_at=t + 70.0)
    run_once(driven, now=t + 70.5)
    billed = ledger(driven, TENANT)
    assert billed.accelerator_hours == pytest.approx(8 * 70.0 / HOUR)
    assert billed.voucher_hours == pytest.approx(8 * 70.0 / HOUR)
    run_once(driven, now=t + 71.0)
    report(driven, current_run(driven, urgent_id), "running", started_at=t + 71.0)
    report(
        driven,
        current_run(driven, urgent_id),
        "succeeded",
        exit_code=0,
        started_at=t + 71.0,
        ended_at=t + 72.0,
    )
    run_once(driven, now=t + 72.5)
    run_once(driven, now=t + 73.0)
    job = driven.job(token, job_id)
    assert (job["state"], job["hold_reason"]) == ("pending", "voucher-insufficient"), job
    assert job["attempts"] == 1


# ----- with a real agent and a real process ----------------------------------------------------
def test_a_real_runs_wind_down_after_its_preemption_is_in_the_books_voucher_balance(
    api: Api,
) -> None:
    """The embedded agent runs the job; SIGTERM makes it take a second to wind down (as a job
    saving a checkpoint would), with its eight accelerators still held: the ledger bills that
    second, and the book counts it the moment the loop takes the run's end in."""
    api.add_sites([LAB])
    token = api.tenant(TENANT, **VOUCHERS_ONLY)
    urgent = api.tenant("urgent", max_priority="high")
    # Its first attempt runs until stopped; the next one (after the urgent job) ends at once.
    winds_down = (
        '[ "$SILKROUTE_ATTEMPT" = 1 ] || exit 0; '
        "trap 'sleep 1; exit 0' TERM; while :; do sleep 0.05; done"
    )
    job_id = api.submit(token, command=winds_down, **ONE_NODE).json()["id"]
    api.wait_for(token, job_id, ("running",))
    api.submit(urgent, name="urgent", priority="high", **BOTH_NODES)
    api.wait_for(token, job_id, ("terminating",))
    api.wait_for(token, job_id, ("succeeded",))
    with api.platform.store.session() as session:
        first = session.scalars(
            select(LedgerRow).where(LedgerRow.job_id == job_id).order_by(LedgerRow.id)
        ).first()
        assert first is not None and first.accelerator_hours * HOUR >= 8 * 1.0  # its wind-down
    assert_book_agrees_with_ledger(api, TENANT, 1.0, runs=2)


# ----- starting only what the vouchers cover ---------------------------------------------------
def test_a_vouchers_only_tenant_starts_only_the_jobs_its_vouchers_cover_until_one_ends_early(
    driven: Api,
) -> None:
    """Two voucher hours, three one-accelerator jobs of 50 minutes each: two start (1.67 h
    committed), the third waits with the hours it needs and those left. The first ends after
    a moment: the ledger charges what it ran, the rest of its 50 minutes is free again, and
    the third starts in the same pass. A job without a time limit waits for one."""
    token, _ = setup(driven, {"voucher_accelerator_hours": 2.0, "pay_as_you_go": False})
    one = {"accelerator_types": ["H100"], "accelerators_per_worker": 1, "time_limit_s": 3000}
    first, second, third = (
        driven.submit(token, name=f"job{i}", **one).json()["id"] for i in range(3)
    )
    unbounded = driven.submit(token, name="no-limit", **{**one, "time_limit_s": None}).json()
    run_once(driven)
    states = {i: driven.job(token, i) for i in (first, second, third, unbounded["id"])}
    assert [states[i]["state"] for i in (first, second)] == ["starting", "starting"]
    held = states[third]
    assert (held["state"], held["hold_reason"]) == ("pending", "voucher-insufficient"), held
    assert "needs 0.8333 accelerator-hours" in held["hold_message"], held["hold_message"]
    assert "0.3333 are left" in held["hold_message"], held["hold_message"]
    no_limit = states[unbounded["id"]]
    assert (no_limit["state"], no_limit["hold_reason"]) == ("pending", "voucher-needs-time-limit")
    assert "time_limit_s" in no_limit["hold_message"]
    started = time.time()
    for job_id in (first, second):
        report(driven, current_run(driven, job_id), "running", started_at=started)
    run_once(driven)
    assert driven.job(token, third)["state"] == "pending"
    time.sleep(WORK_S)
    end_run(driven, first, "succeeded", started, exit_code=0)  # 0.3 s of its 50 minutes
    assert driven.job(token, first)["state"] == "succeeded"
    assert driven.job(token, third)["state"] == "starting"
    billed = ledger(driven, TENANT)
    assert billed.runs == 1 and billed.accelerator_hours * HOUR < 5.0, billed
    assert_book_agrees_with_ledger(driven, TENANT, 2.0, runs=1)
    assert account(driven, TENANT).committed_gpu_s == 2 * 3000.0  # the second and the third
    assert driven.job(token, unbounded["id"])["hold_reason"] == "voucher-needs-time-limit"


@pytest.mark.parametrize("db_url", ["sqlite", "postgresql"], indirect=True)
def test_a_pass_that_fails_after_billing_a_run_does_not_bill_it_twice(
    driven: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The pass that takes the run's end in bills the book, then fails before its transaction
    # commits: the ledger row and the report's "taken" mark roll back, and the next pass takes
    # the same end in again. The book must then count the run once, as the ledger does.
    api = driven
    token, _ = setup(api, VOUCHERS_ONLY)
    job_id, started = start_job(api, token)
    time.sleep(WORK_S)

    def store_gone(self: object, job: int) -> None:
        raise RuntimeError("the database went away mid-pass")

    monkeypatch.setattr(type(api.platform.loop.scheduler), "run_gone", store_gone)
    with pytest.raises(RuntimeError, match="went away"):
        end_run(api, job_id, "succeeded", started, exit_code=0)
    assert ledger(api, TENANT).runs == 0  # rolled back with the pass
    monkeypatch.undo()
    run_once(api)
    assert api.job(token, job_id)["state"] == "succeeded"
    assert_book_agrees_with_ledger(api, TENANT, granted=1.0, runs=1)
