"""A job's life through the real platform: submit, place, run, finish, cancel, logs."""

from __future__ import annotations

from tests.platform.conftest import Api


def test_a_submitted_job_runs_to_success_and_its_output_is_kept(api: Api) -> None:
    api.add_sites()
    token = api.tenant("nus-nlp")
    command = (
        'echo "job $SILKROUTE_JOB_ID rank $SILKROUTE_RANK of $SILKROUTE_WORLD_SIZE '
        'on $SILKROUTE_ACCELERATOR_TYPE [$SILKROUTE_ACCELERATORS]"'
    )
    got = api.submit(
        token,
        name="hello",
        command=command,
        accelerator_types=["H100"],
        workers=1,
        accelerators_per_worker=2,
    )
    assert got.status_code == 201, got.text
    job_id = got.json()["id"]
    job = api.wait_for(token, job_id, ("succeeded", "failed"))
    assert job["state"] == "succeeded", job
    assert job["site"] == "singapore" and job["accelerator_type"] == "H100"
    assert [e["state"] for e in job["events"]][:1] == ["pending"]
    assert {"starting", "running", "succeeded"} <= {e["state"] for e in job["events"]}
    logs = api.client.get(f"/v1/jobs/{job_id}/logs", headers=api.as_(token)).json()
    assert logs["text"].strip().startswith(f"job {job_id} rank 0 of 1 on H100 [")
    assert logs["finished"] is True


def test_a_failing_command_fails_the_job_with_its_exit_code(api: Api) -> None:
    api.add_sites()
    token = api.tenant("t1")
    job_id = api.submit(token, command="exit 3").json()["id"]
    job = api.wait_for(token, job_id, ("succeeded", "failed"))
    assert job["state"] == "failed" and job["exit_code"] == 3


def test_a_failing_job_with_retries_runs_again(api: Api) -> None:
    api.add_sites()
    token = api.tenant("t1")
    # Fails on the first attempt, succeeds on the second.
    command = 'test "$SILKROUTE_ATTEMPT" -ge 2'
    job_id = api.submit(token, command=command, max_retries=2).json()["id"]
    job = api.wait_for(token, job_id, ("succeeded", "failed"))
    assert job["state"] == "succeeded"
    assert [r["outcome"] for r in job["runs"]] == ["failed", "succeeded"]


def test_cancelling_a_running_job_delivers_sigterm(api: Api, tmp_path) -> None:  # type: ignore[no-untyped-def]
    api.add_sites()
    token = api.tenant("t1")
    marker = tmp_path / "got-sigterm"
    command = (
        f"trap 'echo term > {marker}; exit 0' TERM; echo ready; while true; do sleep 0.05; done"
    )
    job_id = api.submit(token, command=command).json()["id"]
    api.wait_for(token, job_id, ("running",))
    api.wait_for_output(token, job_id, "ready")
    got = api.client.delete(f"/v1/jobs/{job_id}", headers=api.as_(token))
    assert got.status_code == 202
    job = api.wait_for(token, job_id, ("cancelled", "failed", "succeeded"))
    assert job["state"] == "cancelled"
    assert marker.read_text().strip() == "term"


def test_cancelling_a_pending_job_never_starts_it(api: Api) -> None:
    api.add_sites()
    token = api.tenant("t1")
    # The only H100 node is full: the second job waits.
    blocker = api.submit(
        token, command="sleep 30", accelerator_types=["H100"], accelerators_per_worker=8
    ).json()["id"]
    api.wait_for(token, blocker, ("running",))
    waiting = api.submit(token, command="true", accelerator_types=["H100"]).json()["id"]
    job = api.wait_for(token, waiting, ("pending",))
    assert api.client.delete(f"/v1/jobs/{waiting}", headers=api.as_(token)).status_code == 202
    job = api.wait_for(token, waiting, ("cancelled",))
    assert job["runs"] == []
    api.client.delete(f"/v1/jobs/{blocker}", headers=api.as_(token))
    api.wait_for(token, blocker, ("cancelled",))


def test_a_waiting_job_says_why_per_site(api: Api) -> None:
    api.add_sites()
    token = api.tenant("t1")
    blocker = api.submit(
        token, command="sleep 30", accelerator_types=["H100"], accelerators_per_worker=8
    ).json()["id"]
    api.wait_for(token, blocker, ("running",))
    waiting = api.submit(token, command="true", accelerator_types=["H100"]).json()["id"]
    import time

    time.sleep(0.3)
    job = api.wait_for(token, waiting, ("pending",))
    reasons = job["reasons_by_site"]
    assert reasons["singapore"].startswith("no room now")
    assert reasons["bangkok"] == "has no H100"
    assert job["hold_reason"] == "insufficient-capacity"
    api.client.delete(f"/v1/jobs/{blocker}", headers=api.as_(token))
    api.wait_for(token, waiting, ("succeeded",))


def test_a_higher_priority_job_preempts_and_the_victim_runs_again_later(api: Api) -> None:
    api.add_sites()
    token = api.tenant("t1", max_priority="high")  # new tenants stop at "normal"
    victim = api.submit(
        token,
        name="victim",
        # Takes a second to checkpoint and stop after SIGTERM.
        command="trap 'sleep 1; exit 0' TERM; echo ready; while true; do sleep 0.05; done",
        accelerator_types=["H100"],
        accelerators_per_worker=8,
        priority="low",
        preemptible=True,
    ).json()["id"]
    api.wait_for(token, victim, ("running",))
    api.wait_for_output(token, victim, "ready")
    urgent = api.submit(
        token,
        name="urgent",
        command="sleep 0.5",
        accelerator_types=["H100"],
        accelerators_per_worker=8,
        priority="high",
    ).json()["id"]
    done = api.wait_for(token, urgent, ("succeeded", "failed"))
    assert done["state"] == "succeeded"
    # The victim was stopped before the urgent job started, then placed again.
    again = api.wait_for(token, victim, ("running",))
    states = [e["state"] for e in again["events"]]
    assert "terminating" in states and states.count("running") == 2, states
    # It said "preempted by job 2 for job 2".
    (why,) = [e["message"] for e in again["events"] if e["reason"] == "preempting"]
    assert why.count(f"job {urgent}") == 1, why
    first, second = again["runs"][0], again["runs"][1]
    assert first["outcome"] == "cancelled" and second["state"] == "running"
    urgent_run = done["runs"][0]
    assert first["ended_at"] <= urgent_run["started_at"], "the two runs overlapped"
    api.client.delete(f"/v1/jobs/{victim}", headers=api.as_(token))
    api.wait_for(token, victim, ("cancelled",))


def test_a_job_past_its_time_limit_is_stopped_and_fails(api: Api) -> None:
    api.add_sites()
    token = api.tenant("t1")
    job_id = api.submit(token, command="sleep 60", time_limit_s=1).json()["id"]
    job = api.wait_for(token, job_id, ("failed", "succeeded", "cancelled"))
    assert job["state"] == "failed"
    assert job["message"] == "stopped at its time limit of 1 s"
    assert "time-limit" in [e["reason"] for e in job["events"]]
    assert job["ended_at"] - job["started_at"] < 30
