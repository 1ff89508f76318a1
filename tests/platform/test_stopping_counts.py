"""A job whose old run is still stopping on a node taken away keeps counting toward its
tenant's running cap and quota until its agent reports the run gone (as Slurm counts a job
COMPLETING); then it is queued again and the tenant's next job may start. Real store (SQLite
and PostgreSQL), live loop, embedded agent and local back end; the first job's process
writes when it started and ended (tests/fence_trace.py)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from silkroute.store.models import RunRow
from tests.fence_trace import assert_one_at_a_time, read_trace, traced_command
from tests.platform.conftest import Api

# Two nodes of four A800s: the first job fills one, the second fits on the other.
TWO_NODES = {
    "name": "lab",
    "country": "SG",
    "nodes": [{"count": 2, "accelerator": "A800", "accelerators": 4, "cpu": 16}],
}
FOUR_A800 = {"accelerator_types": ["A800"], "accelerators_per_worker": 4}


@dataclass(frozen=True)
class StoppingCase:
    name: str
    tenant: dict[str, Any]  # the tenant's limit
    reason: str  # the second job's hold reason
    says: str  # what its hold message says once the first job's old run is stopping
    # An admin changes the tenant while the old run stops: the live loop builds its book
    # again from the store, which must count the old run too.
    rebuild: bool = False


CASES = [
    StoppingCase(
        "a cap of one counts the old run until it is gone",
        {"max_running_jobs": 1},
        "max-running-jobs",
        "has 1 jobs running, 1 of them an old run still stopping on a node taken away",
    ),
    StoppingCase(
        "a quota of four A800s counts the old run's four until it is gone",
        {"quota": {"A800": 4}},
        "quota-exceeded",
        "4 in use (4 by old runs still stopping on nodes taken away",
    ),
    StoppingCase(
        "a cap of one still counts the old run after the book is built again from the store",
        {"max_running_jobs": 1},
        "max-running-jobs",
        "has 1 jobs running, 1 of them an old run still stopping on a node taken away",
        rebuild=True,
    ),
    StoppingCase(
        "a quota still counts the old run after the book is built again from the store",
        {"quota": {"A800": 4}},
        "quota-exceeded",
        "4 in use (4 by old runs still stopping on nodes taken away",
        rebuild=True,
    ),
]


def runs_of(api: Api, job_id: int) -> list[RunRow]:
    with api.platform.store.session() as session:
        return list(
            session.scalars(
                select(RunRow).where(RunRow.job_id == job_id).order_by(RunRow.created_at)
            )
        )


def wait_for_message(api: Api, token: str, job_id: int, text: str) -> dict[str, Any]:
    deadline = time.monotonic() + 20
    while True:
        job = api.job(token, job_id)
        if text in (job["hold_message"] or ""):
            return job
        assert time.monotonic() < deadline, job
        time.sleep(0.05)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_a_job_whose_old_run_is_stopping_keeps_counting_toward_its_tenants_limit(
    api: Api, tmp_path: Path, case: StoppingCase
) -> None:
    api.add_sites([TWO_NODES])
    token = api.tenant("acme", **case.tenant)
    trace, release = tmp_path / "trace", tmp_path / "release"
    # Its first attempt takes 2 s to wind down after SIGTERM (the grace is 3 s).
    first = api.submit(token, command=traced_command(trace, release, stop_s=2.0), **FOUR_A800)
    first_id = first.json()["id"]
    running = api.wait_for(token, first_id, ("running",))
    node = running["runs"][0]["nodes"][0]
    second_id = api.submit(token, name="second", command="true", **FOUR_A800).json()["id"]
    deadline = time.monotonic() + 20
    while api.job(token, second_id)["hold_reason"] != case.reason:
        assert time.monotonic() < deadline, api.job(token, second_id)
        time.sleep(0.05)
    deadline = time.monotonic() + 20
    while 1 not in read_trace(trace).attempts:
        assert time.monotonic() < deadline, "the first attempt never started"
        time.sleep(0.05)
    got = api.client.post(
        "/v1/sites/lab/remove", json={"nodes": [node]}, headers=api.admin_headers()
    )
    assert got.status_code == 200 and got.json()["requeued_jobs"] == [first_id], got.text
    if case.rebuild:
        api.wait_for(token, first_id, ("terminating",))
        changed = api.client.patch(
            "/v1/tenants/acme", json={"weight": 2}, headers=api.admin_headers()
        )
        assert changed.status_code == 200, changed.text
    # The other node has room for the second job, but the old run still counts: it waits,
    # saying why, for as long as the first job's old process winds down.
    held = wait_for_message(api, token, second_id, case.says)
    assert held["state"] == "pending" and held["hold_reason"] == case.reason, held
    assert "confirm" in held["hold_message"], held  # ... counted until confirmed gone
    assert api.job(token, first_id)["hold_reason"] == "fenced"
    deadline = time.monotonic() + 20
    while read_trace(trace).attempts[1].ended is None:
        assert not runs_of(api, second_id), "the second job started beside the stopping run"
        assert time.monotonic() < deadline, read_trace(trace)
        time.sleep(0.05)
    # Once the old run is reported gone, both jobs run, one at a time within the limit.
    for job_id in (first_id, second_id):
        done = api.wait_for(token, job_id, ("succeeded", "failed"), timeout=30)
        assert done["state"] == "succeeded", done
    old_run = runs_of(api, first_id)[0]
    assert old_run.outcome == "cancelled" and old_run.ended_at is not None
    (second_run,) = runs_of(api, second_id)
    assert second_run.created_at >= old_run.ended_at, (second_run.created_at, old_run.ended_at)
    assert sorted(assert_one_at_a_time(trace)) == [1, 2]
    # Neither job used more of the limit than it allows at any instant.
    runs = [*runs_of(api, first_id), second_run]
    edges = sorted([(r.created_at, 1) for r in runs] + [(r.ended_at or 0.0, -1) for r in runs])
    most = now = 0
    for _, step in sorted(edges, key=lambda e: (e[0], e[1])):
        now += step
        most = max(most, now)
    assert most == 1
    assert api.job(token, second_id)["hold_reason"] is None
