"""The agent protocol on a real platform, driven by hand: site-scoped tokens, assignments,
reports, shipped logs, heartbeats and what a silent agent costs its site."""

from __future__ import annotations

import base64
import time
from typing import Any

import pytest

from tests.platform.conftest import WAIT_S, Api

A, B = "bangkok", "hanoi"  # A100 and A800 sites of the demo federation


def agent_token(api: Api, site: str) -> str:
    got = api.client.post(f"/v1/sites/{site}/agent-token", headers=api.admin_headers())
    assert got.status_code == 201, got.text
    token: str = got.json()["token"]
    return token


def heartbeat(api: Api, token: str) -> dict[str, Any]:
    got = api.client.post(
        "/v1/agent/heartbeat", json={"backend": "test", "inventory": {}}, headers=api.as_(token)
    )
    assert got.status_code == 200, got.text
    answer: dict[str, Any] = got.json()
    return answer


def assignments(api: Api, token: str) -> list[dict[str, Any]]:
    got = api.client.get("/v1/agent/assignments", headers=api.as_(token))
    assert got.status_code == 200, got.text
    found: list[dict[str, Any]] = got.json()
    return found


def report(api: Api, token: str, run_id: str, **body: Any) -> Any:
    return api.client.post(f"/v1/agent/runs/{run_id}/status", json=body, headers=api.as_(token))


def wait_assigned(
    api: Api, token: str, timeout_s: float = WAIT_S, but_not: str = ""
) -> dict[str, Any]:
    """The site's first assignment (other than `but_not`), heartbeating as an agent does."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        heartbeat(api, token)
        found = [a for a in assignments(api, token) if a["run_id"] != but_not]
        if found:
            return found[0]
        time.sleep(0.05)
    raise AssertionError("nothing was assigned to the site")


def remote_site_job(api: Api, **fields: Any) -> tuple[str, str, int, dict[str, Any]]:
    """Sites A and B served by remote agents (B's up); a job for B, assigned to B's agent."""
    api.add_sites()
    token_a, token_b = agent_token(api, A), agent_token(api, B)
    heartbeat(api, token_b)
    tenant = api.tenant("t1")
    got = api.submit(tenant, sites=[B], accelerators_per_worker=1, **fields)
    assert got.status_code == 201, got.text
    return token_a, token_b, got.json()["id"], wait_assigned(api, token_b)


def test_an_agent_sees_and_reports_only_its_own_sites_runs(api: Api) -> None:
    token_a, token_b, job_id, run = remote_site_job(api, command="echo hi")
    tenant = api.tenant("t2")
    assert run["intent"] == "run" and run["site"] == B and run["last_reported"] is None
    assert run["command"] == "echo hi" and run["checkpoint"] == f"job{job_id}-checkpoints"
    # Site A's agent: B's run is invisible and untouchable (as if it did not exist).
    assert assignments(api, token_a) == []
    assert report(api, token_a, run["run_id"], state="running").status_code == 404
    shipped = {"stream": "stdout", "offset": 0, "data": base64.b64encode(b"x").decode()}
    got = api.client.post(
        f"/v1/agent/runs/{run['run_id']}/logs", json=shipped, headers=api.as_(token_a)
    )
    assert got.status_code == 404
    # Tenants and staff cannot use agent endpoints; agent tokens cannot use tenant ones.
    for token in (tenant, api.admin):
        assert api.client.get("/v1/agent/assignments", headers=api.as_(token)).status_code == 403
    assert api.client.get("/v1/jobs", headers=api.as_(token_b)).status_code == 403
    got = api.client.post(f"/v1/sites/{A}/agent-token", headers=api.as_(tenant))
    assert got.status_code == 403
    # Site B's agent runs it: logs shipped, states reported, the job follows.
    assert report(api, token_b, run["run_id"], state="running", started_at=time.time()).is_success
    api.wait_for(api.admin, job_id, ("running",))
    got = api.client.post(
        f"/v1/agent/runs/{run['run_id']}/logs",
        json={"stream": "stdout", "offset": 0, "data": base64.b64encode(b"hi\n").decode()},
        headers=api.as_(token_b),
    )
    assert got.json() == {"offset": 3}
    gap = {"stream": "stdout", "offset": 10, "data": base64.b64encode(b"x").decode()}
    path = f"/v1/agent/runs/{run['run_id']}/logs"
    got = api.client.post(path, json=gap, headers=api.as_(token_b))
    assert got.status_code == 409
    assert assignments(api, token_b)[0]["log_offsets"] == {"stdout": 3, "stderr": 0}
    ended = report(api, token_b, run["run_id"], state="succeeded", exit_code=0)
    assert ended.is_success
    job = api.wait_for(api.admin, job_id, ("succeeded", "failed"))
    assert job["state"] == "succeeded" and job["site"] == B
    logs = api.client.get(f"/v1/jobs/{job_id}/logs", headers=api.admin_headers()).json()
    assert logs["text"] == "hi\n"
    assert assignments(api, token_b) == []


def test_a_bad_report_is_refused_naming_the_field(api: Api) -> None:
    _, token_b, _, run = remote_site_job(api, command="true")
    got = report(api, token_b, run["run_id"], state="exploded")
    assert got.status_code == 422 and got.json()["errors"][0]["field"] == "state"
    got = report(api, token_b, run["run_id"], state="failed", exit_code="three")
    assert got.status_code == 422 and got.json()["errors"][0]["field"] == "exit_code"
    assert report(api, token_b, "../etc", state="failed").status_code == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        pytest.param({"exit_code": 2**40}, "exit_code", id="an exit code past a 32-bit column"),
        pytest.param({"exit_code": -(2**31) - 1}, "exit_code", id="one below it"),
        pytest.param({"started_at": 1e300}, "started_at", id="a start past any clock"),
        pytest.param({"ended_at": -1e300}, "ended_at", id="an end before any clock"),
    ],
)
def test_a_report_number_past_its_column_is_refused_naming_the_field(
    api: Api, body: dict[str, Any], field: str
) -> None:
    _, token_b, _, run = remote_site_job(api, command="true")
    got = report(api, token_b, run["run_id"], state="failed", **body)
    assert got.status_code == 422, got.text
    assert got.json()["errors"][0]["field"] == field
    assert assignments(api, token_b)[0]["last_reported"] is None  # nothing of it stored


@pytest.mark.parametrize(
    ("retries", "final"),
    [
        pytest.param(0, "failed", id="with no retry left the job fails"),
        pytest.param(1, "starting", id="with a retry left the job is placed again at once"),
    ],
)
def test_a_run_the_engine_refuses_gives_its_resources_back(
    api: Api, retries: int, final: str
) -> None:
    _, token_b, job_id, run = remote_site_job(api, command="true", max_retries=retries)
    refused = report(
        api, token_b, run["run_id"], state="failed", message="sbatch: bad", launch_failed=True
    )
    assert refused.is_success
    if final == "starting":  # placed again at once: the failed start held nothing
        second = wait_assigned(api, token_b, but_not=run["run_id"])
        assert second["attempt"] == 2, [
            (e["state"], e["reason"], e["message"]) for e in api.job(api.admin, job_id)["events"]
        ]
    job = api.wait_for(api.admin, job_id, (final,))
    reasons = [e["reason"] for e in job["events"]]
    assert ("launch-failed" if final == "failed" else "retrying") in reasons, reasons


def test_a_run_that_ended_before_its_agent_saw_it_running_shows_in_the_jobs_history(
    api: Api,
) -> None:
    # The agent's first look at the engine found the run over already (a short job, or a
    # loaded machine): the job ran all the same, and says so, with the engine's start.
    _, token_b, job_id, run = remote_site_job(api, command="true")
    started = time.time() - 2.0
    done = {"state": "succeeded", "exit_code": 0, "started_at": started, "ended_at": started + 1}
    assert report(api, token_b, run["run_id"], **done).is_success
    job = api.wait_for(api.admin, job_id, ("succeeded", "failed"))
    assert [e["state"] for e in job["events"]][-3:] == ["starting", "running", "succeeded"], job
    assert job["started_at"] == pytest.approx(started) and job["ended_at"] is not None


def agent_states(api: Api) -> dict[str, Any]:
    agents = api.client.get("/v1/agents", headers=api.admin_headers()).json()
    return {a["site"]: a for a in agents}


def wait_site(api: Api, site: str, state: str, timeout: float = WAIT_S) -> None:
    deadline = time.monotonic() + timeout
    while agent_states(api)[site]["state"] != state:
        assert time.monotonic() < deadline, f"site {site} never became {state}"
        time.sleep(0.05)


def test_a_silent_agent_has_its_site_marked_down_and_its_jobs_requeued_after_its_lease(
    api: Api,
) -> None:
    loop = api.platform.loop
    loop.agent_timeout_s, loop.agent_lease_s, loop.grace_s = 1.0, 1.5, 1.0
    _, token_b, job_id, run = remote_site_job(api, command="true")
    answer = heartbeat(api, token_b)
    assert (answer["lease_s"], answer["grace_s"]) == (1.5, 1.0)  # the agent learns both
    assert report(api, token_b, run["run_id"], state="running", started_at=time.time()).is_success
    api.wait_for(api.admin, job_id, ("running",))
    # No heartbeat from here on: the site goes down at once (no new work there), but the
    # job keeps its run, saying until when, while its agent may still be stopping it. (Read
    # from its history: a look at the job between the two, 2.5 s apart here, came too late
    # on a loaded machine.)
    wait_site(api, B, "down")
    job = api.wait_for(api.admin, job_id, ("pending",))
    down, requeued = [e for e in job["events"] if e["reason"] == "site-down"]
    assert down["state"] == "running", job["events"]
    assert f"run {run['run_id']} counts as lost at" in down["message"]
    assert requeued["state"] == "pending", job["events"]
    assert job["runs"][0]["outcome"] == "lost"
    heard = agent_states(api)[B]["last_heartbeat"]
    assert job["runs"][0]["ended_at"] >= heard + loop.lease_s + loop.grace_s
    assert "site-down" in [e["reason"] for e in job["events"]]
    assert job["hold_reason"] != "site-down"
    # A late word about the lost run changes nothing; the next heartbeat brings B back.
    assert report(api, token_b, run["run_id"], state="succeeded").json()["accepted"] is False
    second = wait_assigned(api, token_b, but_not=run["run_id"])
    assert second["attempt"] == 2


def test_an_agent_heard_again_within_its_lease_keeps_its_runs(api: Api) -> None:
    loop = api.platform.loop
    loop.agent_timeout_s, loop.agent_lease_s = 0.5, 60.0
    _, token_b, job_id, run = remote_site_job(api, command="true")
    assert report(api, token_b, run["run_id"], state="running", started_at=time.time()).is_success
    api.wait_for(api.admin, job_id, ("running",))
    wait_site(api, B, "down")
    heartbeat(api, token_b)  # back long before its lease ran out
    wait_site(api, B, "up")
    job = api.job(api.admin, job_id)
    assert job["state"] == "running" and job["hold_reason"] is None, job
    assert [r["run_id"] for r in job["runs"]] == [run["run_id"]]
    assert job["runs"][0]["state"] == "running"
    assert [e["reason"] for e in job["events"]][-2:] == ["site-down", "site-up"]


@pytest.mark.parametrize(
    ("state", "final"),
    [
        pytest.param("cancelled", "starting", id="a run its agent stopped is queued again"),
        pytest.param("succeeded", "succeeded", id="a run that finished meanwhile stands"),
    ],
)
def test_a_run_its_agent_fenced_costs_the_job_no_retry(api: Api, state: str, final: str) -> None:
    _, token_b, job_id, run = remote_site_job(api, command="true", max_retries=0)
    assert report(api, token_b, run["run_id"], state="running", started_at=time.time()).is_success
    api.wait_for(api.admin, job_id, ("running",))
    got = report(api, token_b, run["run_id"], state=state, fenced=True, message="lease ran out")
    assert got.json()["accepted"] is True
    if final == "starting":  # no retry left, yet placed again: the agent's doing, not the job's
        second = wait_assigned(api, token_b, but_not=run["run_id"])
        assert second["attempt"] == 2
    job = api.wait_for(api.admin, job_id, (final,))
    reasons = [e["reason"] for e in job["events"]]
    assert ("lease-expired" in reasons) == (final == "starting"), reasons
