"""A tenant's cap on running jobs (`max_running_jobs`) and its monthly budget held in the
live loop: with the real store, loop and local back end, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import select

from silkroute.control import accounting
from silkroute.store.models import AuditRecordRow, JobEventRow, RunRow
from tests.platform.conftest import Api
from tests.platform.migrations import columns, execute, one_row, run
from tests.platform.test_cli import app, cli, runner
from tests.platform.test_tenant_limits import LAB, jobs_of, patch, wait_for_hold

CPU = {"accelerators_per_worker": 0}


def drain(api: Api, drained: bool = True) -> None:
    action = "drain" if drained else "undrain"
    got = api.client.post(f"/v1/sites/lab/{action}", headers=api.admin_headers())
    assert got.status_code == 200, got.text


def runs_of(api: Api, job_ids: list[int]) -> list[RunRow]:
    with api.platform.store.session() as session:
        return list(
            session.scalars(
                select(RunRow).where(RunRow.job_id.in_(job_ids)).order_by(RunRow.created_at)
            )
        )


def most_at_once(runs: list[RunRow]) -> int:
    """The most runs that held resources at one instant: from the start decision (the run's
    creation) to its end as its engine reported it (an end sorts before a start at a tie)."""
    edges = sorted(
        [(r.created_at, 1) for r in runs] + [(r.ended_at or float("inf"), -1) for r in runs],
        key=lambda e: (e[0], e[1]),
    )
    most = now = 0
    for _, step in edges:
        now += step
        most = max(most, now)
    return most


def hold_reasons(api: Api, job_ids: list[int]) -> set[str]:
    with api.platform.store.session() as session:
        return set(
            session.scalars(
                select(JobEventRow.reason).where(
                    JobEventRow.job_id.in_(job_ids), JobEventRow.state == "pending"
                )
            )
        )


# ----- max_running_jobs ---------------------------------------------------------------------
@dataclass(frozen=True)
class RunningCase:
    name: str
    cap: int
    submits: list[dict[str, Any]]  # each one POST /v1/jobs


RUNNING_CASES = [
    RunningCase(
        "a cap of one runs three jobs one at a time",
        1,
        [{"name": f"j{n}", "command": "sleep 0.5", **CPU} for n in range(3)],
    ),
    RunningCase(
        "a cap of two runs a group of three replicas two at a time",
        2,
        [{"name": "serve", "kind": "inference", "replicas": 3, "command": "sleep 0.5", **CPU}],
    ),
    RunningCase(
        "a cap of one counts a two-worker gang as one job",
        1,
        [{"name": f"gang{n}", "workers": 2, "command": "sleep 0.5", **CPU} for n in range(2)],
    ),
]


@pytest.mark.parametrize("case", RUNNING_CASES, ids=lambda c: c.name)
def test_the_running_cap_holds_in_one_pass_and_every_job_finishes(
    api: Api, case: RunningCase
) -> None:
    api.add_sites([LAB])
    drain(api)  # every job waits first: one pass then sees them all at once
    token = api.tenant("acme", max_running_jobs=case.cap)
    for body in case.submits:
        got = api.submit(token, **body)
        assert got.status_code == 201, got.text
    ids = sorted(j.id for j in jobs_of(api, "acme"))
    drain(api, drained=False)
    for job_id in ids:
        assert api.wait_for(token, job_id, ("succeeded", "failed"))["state"] == "succeeded"
    assert most_at_once(runs_of(api, ids)) == case.cap
    assert "max-running-jobs" in hold_reasons(api, ids)


def test_a_capped_tenant_does_not_hold_another_and_a_raised_cap_starts_its_jobs(
    api: Api,
) -> None:
    api.add_sites([LAB])
    capped = api.tenant("acme", max_running_jobs=0)
    free = api.tenant("other")
    held = [api.submit(capped, name=f"a{n}", command="true", **CPU).json()["id"] for n in (0, 1)]
    wait_for_hold(api, capped, held[0], "max-running-jobs")
    shown = api.job(capped, held[0])
    assert "at most 0" in shown["hold_message"] and "max_running_jobs" in shown["hold_message"]
    explained = api.client.get(f"/v1/jobs/{held[0]}/explain", headers=api.as_(capped)).json()
    assert explained["hold_reason"] == "max-running-jobs"
    # The other tenant's job runs while acme's wait; neither sees the other's jobs.
    theirs = api.submit(free, command="true", **CPU).json()["id"]
    assert api.wait_for(free, theirs, ("succeeded", "failed"))["state"] == "succeeded"
    assert api.client.get(f"/v1/jobs/{held[0]}", headers=api.as_(free)).status_code == 404
    assert api.client.get(f"/v1/jobs/{theirs}", headers=api.as_(capped)).status_code == 404
    assert [api.job(capped, j)["state"] for j in held] == ["pending", "pending"]
    assert patch(api, "acme", {"max_running_jobs": None}).status_code == 200
    for job_id in held:
        assert api.wait_for(capped, job_id, ("succeeded", "failed"))["state"] == "succeeded"


# ----- budgets held in the loop ---------------------------------------------------------------
def test_a_spent_budget_holds_pending_jobs_until_it_is_raised_and_lets_running_ones_finish(
    api: Api,
) -> None:
    api.add_sites([LAB])  # 1.00 per A800-hour: two A800 cost about 0.00056 a second
    drain(api)
    token = api.tenant("acme", monthly_budget=0.0002, max_running_jobs=1)
    other = api.tenant("other", monthly_budget=100)
    first = api.submit(token, name="first", command="sleep 2", accelerators_per_worker=2)
    second = api.submit(token, name="second", command="true", accelerators_per_worker=1)
    assert first.status_code == second.status_code == 201, (first.text, second.text)
    first_id, second_id = first.json()["id"], second.json()["id"]
    drain(api, drained=False)
    # The first runs past the budget; the second, queued before that, is held for it.
    wait_for_hold(api, token, second_id, "budget-exhausted")
    done = api.wait_for(token, first_id, ("succeeded", "failed", "cancelled"))
    assert done["state"] == "succeeded"  # a running job is not stopped for money
    assert "terminating" not in [e["state"] for e in done["events"]]
    api.settle(20)  # several budget checks and passes later: still held
    held = api.job(token, second_id)
    assert held["state"] == "pending" and held["hold_reason"] == "budget-exhausted"
    message = held["hold_message"]
    assert "acme" in message and "monthly budget of 0.0002" in message
    assert "raised" in message and "month ends" in message
    explained = api.client.get(f"/v1/jobs/{second_id}/explain", headers=api.as_(token)).json()
    assert explained["hold_reason"] == "budget-exhausted"
    # Another tenant's budget is its own: its job starts meanwhile.
    theirs = api.submit(other, command="true", accelerators_per_worker=1).json()["id"]
    assert api.wait_for(other, theirs, ("succeeded", "failed"))["state"] == "succeeded"
    assert api.job(token, second_id)["state"] == "pending"
    # Raised: the held job starts by itself.
    assert patch(api, "acme", {"monthly_budget": 100}).status_code == 200
    assert api.wait_for(token, second_id, ("succeeded", "failed"))["state"] == "succeeded"


def test_with_budget_stops_running_a_spent_budget_stops_running_jobs_until_raised(
    api: Api,
) -> None:
    api.platform.loop.budget_stops_running = True  # `silkroute server --budget-stops-running`
    api.add_sites([LAB])
    token = api.tenant("acme", monthly_budget=0.0002)
    other = api.tenant("other")
    # Its first run lasts until stopped (however late a loaded machine gets to it); the
    # second ends at once.
    command = 'if [ "$SILKROUTE_ATTEMPT" = 1 ]; then sleep 600; fi'
    job = api.submit(token, command=command, accelerators_per_worker=2).json()["id"]
    wait_for_hold(api, token, job, "budget-exhausted")  # stopped, then held in the queue
    shown = api.job(token, job)
    assert shown["state"] == "pending"
    stops = [e for e in shown["events"] if e["state"] == "terminating"]
    assert stops and "monthly budget is spent" in stops[0]["message"], shown["events"]
    theirs = api.submit(other, command="true", accelerators_per_worker=2).json()["id"]
    assert api.wait_for(other, theirs, ("succeeded", "failed"))["state"] == "succeeded"
    assert patch(api, "acme", {"monthly_budget": 100}).status_code == 200
    assert api.wait_for(token, job, ("succeeded", "failed"))["state"] == "succeeded"
    assert len(runs_of(api, [job])) == 2  # the stopped run, and the one that finished


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_budget_hold_ends_when_the_month_turns(api: Api) -> None:
    api.add_sites([LAB])
    drain(api)
    token = api.tenant("acme", monthly_budget=0.0002, max_running_jobs=1)
    first = api.submit(token, command="sleep 1", accelerators_per_worker=2).json()["id"]
    second = api.submit(token, command="true", accelerators_per_worker=1).json()["id"]
    drain(api, drained=False)
    api.wait_for(token, first, ("succeeded",))
    wait_for_hold(api, token, second, "budget-exhausted")
    loop = api.platform.loop
    loop.stop()  # from here on, passes run only when called, at the time given
    now = time.time()
    next_month = accounting.month_start(accounting.month_start(now) + 32 * 86_400) + 1.0
    with api.platform.store.session() as session:
        assert set(accounting.budget_holds(session, now)) == {"acme"}
        assert accounting.budget_holds(session, next_month) == {}
        # The batched figure is the usage report's: its lines for this month, summed.
        spent = accounting.month_spends(session, ["acme", "nobody"], now)
        lines = accounting.usage_lines(session, "acme", accounting.month_start(now), None, now)
        assert spent == {"acme": pytest.approx(sum(x.cost for x in lines)), "nobody": 0.0}
        assert spent["acme"] >= 0.0002
    loop.run_once(now=now)
    assert api.job(token, second)["state"] == "pending"
    loop.poll_s = 0.0  # the budget check runs at every pass from here
    loop.run_once(now=next_month)
    assert api.job(token, second)["state"] == "starting"


# ----- settings: create, PATCH, bounds --------------------------------------------------------
@dataclass(frozen=True)
class CapSetting:
    name: str
    body: dict[str, Any]
    status: int
    shown: int | None = None  # max_running_jobs afterwards (when accepted)


CREATE_CASES = [
    CapSetting("no cap unless given", {}, 201, None),
    CapSetting("a cap of zero", {"max_running_jobs": 0}, 201, 0),
    CapSetting("a cap of five", {"max_running_jobs": 5}, 201, 5),
    CapSetting("no cap, said so", {"max_running_jobs": None}, 201, None),
    CapSetting("the largest cap", {"max_running_jobs": 100_000_000}, 201, 100_000_000),
    CapSetting("a negative cap", {"max_running_jobs": -1}, 422),
    CapSetting("a fractional cap", {"max_running_jobs": 1.5}, 422),
    CapSetting("a cap past the bound", {"max_running_jobs": 100_000_001}, 422),
    CapSetting("a cap that is not a number", {"max_running_jobs": "many"}, 422),
]


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("case", CREATE_CASES, ids=lambda c: c.name)
def test_creating_a_tenant_with_a_running_cap(api: Api, case: CapSetting) -> None:
    body = {"name": "acme", "country": "SG", **case.body}
    got = api.client.post("/v1/tenants", json=body, headers=api.admin_headers())
    assert got.status_code == case.status, got.text
    if case.status != 201:
        assert [e["field"] for e in got.json()["errors"]] == ["max_running_jobs"]
        assert api.client.get("/v1/tenants/acme", headers=api.admin_headers()).status_code == 404
        return
    assert got.json()["tenant"]["max_running_jobs"] == case.shown
    shown = api.client.get("/v1/tenants/acme", headers=api.admin_headers()).json()
    assert shown["max_running_jobs"] == case.shown


PATCH_CASES = [
    CapSetting("a cap set", {"max_running_jobs": 3}, 200, 3),
    CapSetting("a cap of zero", {"max_running_jobs": 0}, 200, 0),
    CapSetting("the cap removed", {"max_running_jobs": None}, 200, None),
    CapSetting("a cap with another field", {"max_running_jobs": 4, "weight": 2}, 200, 4),
    CapSetting("a negative cap", {"max_running_jobs": -1}, 422),
    CapSetting("a fractional cap", {"max_running_jobs": 2.5}, 422),
    CapSetting("a cap past the bound", {"max_running_jobs": 10**9}, 422),
    CapSetting("a cap that is not a number", {"max_running_jobs": "many"}, 422),
]


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("case", PATCH_CASES, ids=lambda c: c.name)
def test_changing_a_running_cap(api: Api, case: CapSetting) -> None:
    api.tenant("acme", max_running_jobs=7)
    before = api.client.get("/v1/tenants/acme", headers=api.admin_headers()).json()
    got = patch(api, "acme", case.body)
    assert got.status_code == case.status, got.text
    after = api.client.get("/v1/tenants/acme", headers=api.admin_headers()).json()
    if case.status != 200:
        assert [e["field"] for e in got.json()["errors"]] == ["max_running_jobs"]
        assert after == before
        return
    assert after["max_running_jobs"] == case.shown
    with api.platform.store.session() as session:
        rows = list(
            session.scalars(select(AuditRecordRow).where(AuditRecordRow.subject == "tenant/acme"))
        )
    changes = json.loads(rows[-1].detail)["changes"]
    assert changes["max_running_jobs"] == {"from": 7, "to": case.shown}


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_only_an_admin_changes_a_running_cap(api: Api) -> None:
    token = api.tenant("acme", max_running_jobs=1)
    other = api.tenant("other")
    assert patch(api, "acme", {"max_running_jobs": None}, token).status_code == 403
    assert patch(api, "acme", {"max_running_jobs": None}, other).status_code == 404
    shown = api.client.get("/v1/tenants/acme", headers=api.as_(token)).json()
    assert shown["max_running_jobs"] == 1
    assert api.client.get("/v1/tenants/acme", headers=api.as_(other)).status_code == 404


# ----- the CLI ----------------------------------------------------------------------------------
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_the_cli_sets_shows_and_clears_a_running_cap(api: Api, server_url: str) -> None:
    create = ("tenant", "create", "acme", "--country", "SG", "--max-running-jobs", "2")
    code, out = cli(server_url, api.admin, *create)
    assert code == 0, out
    assert (
        api.client.get("/v1/tenants/acme", headers=api.admin_headers()).json()["max_running_jobs"]
        == 2
    )
    code, out = cli(server_url, api.admin, "tenant", "list")
    assert code == 0 and "max running" in out, out
    update = ("tenant", "update", "acme", "--max-running-jobs")
    code, out = cli(server_url, api.admin, *update, "none", "--json")
    assert code == 0 and json.loads(out)["max_running_jobs"] is None, out
    for bad in ("lots", "-1", "1.5"):
        code, out = cli(
            server_url, api.admin, "tenant", "update", "acme", "--max-running-jobs", bad
        )
        assert code == 2 and "--max-running-jobs" in out and out.count("\n") == 1, out
    wide = {"COLUMNS": "200", "TERMINAL_WIDTH": "200"}  # option names are not cut short
    for command, option in [
        (["tenant", "update"], "--max-running-jobs"),
        (["tenant", "create"], "--max-running-jobs"),
        (["server"], "--budget-stops-running"),
    ]:
        shown = runner.invoke(app, [*command, "--help"], env=wide)
        assert shown.exit_code == 0 and option in shown.output, shown.output


# ----- migration 0007 -------------------------------------------------------------------------
def test_0007_gives_existing_tenants_no_running_cap_and_downgrades(bare_store: Any) -> None:
    run(bare_store, "upgrade", "0006_tenant_limits")
    execute(
        bare_store,
        "INSERT INTO tenants (name, country, weight, quota, voucher_accelerator_hours,"
        " pay_as_you_go, created_at, ciio, max_pending_jobs) VALUES"
        " ('acme', 'SG', 2, '{}', 5, true, 0, false, 7)",
        "INSERT INTO jobs (tenant, name, spec, state, submitted_at, attempts, failures,"
        " cancel_requested, message) VALUES ('acme', 'j', '{}', 'pending', 0, 0, 0, false, '')",
    )
    run(bare_store, "upgrade", "0007_tenant_running_caps")
    row = one_row(bare_store, "SELECT weight, max_pending_jobs, max_running_jobs FROM tenants")
    assert row == (2.0, 7, None)
    run(bare_store, "downgrade", "0006_tenant_limits")
    assert "max_running_jobs" not in columns(bare_store, "tenants")
    assert one_row(bare_store, "SELECT count(*) FROM jobs") == (1,)
