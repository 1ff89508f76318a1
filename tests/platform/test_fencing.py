"""A job whose node is removed while it runs starts again only once its old run is gone
(real processes of the embedded local back end; pids and clocks of the job itself)."""

from __future__ import annotations

import time
from pathlib import Path

from tests.fence_trace import assert_one_at_a_time, read_trace, traced_command
from tests.platform.conftest import WAIT_S, Api


def test_a_removed_nodes_job_waits_for_its_old_run_to_stop_before_running_again(
    api: Api, tmp_path: Path
) -> None:
    api.add_sites()
    token = api.tenant("t1")
    trace, release = tmp_path / "trace", tmp_path / "release"
    # The first attempt takes 1.5 s to wind down after SIGTERM (the grace is 3 s).
    command = traced_command(trace, release, stop_s=1.5)
    job_id = api.submit(
        token, command=command, accelerator_types=["L40S"], accelerators_per_worker=4
    ).json()["id"]
    job = api.wait_for(token, job_id, ("running",))
    first_run, node = job["runs"][0]["run_id"], job["runs"][0]["nodes"][0]
    deadline = time.monotonic() + WAIT_S
    while 1 not in read_trace(trace).attempts:
        assert time.monotonic() < deadline, "the first attempt never started"
        time.sleep(0.05)
    got = api.client.post(
        "/v1/sites/jakarta/remove", json={"nodes": [node]}, headers=api.admin_headers()
    )
    assert got.status_code == 200 and got.json()["requeued_jobs"] == [job_id], got.text
    # While the old process winds down the job waits, saying for what; nothing new starts.
    waiting = api.wait_for(token, job_id, ("terminating",))
    assert waiting["hold_reason"] == "fenced", waiting
    assert (
        waiting["hold_message"] == f"waiting for run {first_run} on {node} to be confirmed stopped"
    )
    assert waiting["events"][-1]["reason"] == "node-removed"
    assert read_trace(trace).attempts[1].alive and len(waiting["runs"]) == 1
    done = api.wait_for(token, job_id, ("succeeded", "failed"), timeout=30)
    assert done["state"] == "succeeded", done
    attempts = assert_one_at_a_time(trace)
    assert sorted(attempts) == [1, 2] and attempts[1].how == "stopped"
    first, second = done["runs"]
    assert first["outcome"] == "cancelled" and second["nodes"][0] != node
    assert second["started_at"] >= first["ended_at"]
    reasons = [(e["state"], e["reason"]) for e in done["events"]]
    assert ("terminating", "node-removed") in reasons and ("pending", "node-removed") in reasons
    assert done["hold_reason"] is None
