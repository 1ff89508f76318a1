"""No job at two sites at once when the control plane and a site lose each other: a real
`silkroute server`, a real `silkroute agent` on the local engine, and jobs that record their
own processes (`tests/fence_trace.py`). The server's agent timeout is 3 s, its grace 3 s;
the lease is the timeout unless a test sets `--agent-lease`."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from silkroute.backends.base import RunState
from silkroute.backends.local import LocalBackend
from silkroute.store.throwaway_pg import free_port
from tests.agent.harness import (
    CLI,
    GRACE_S,
    HEARTBEAT_TIMEOUT_S,
    ControlPlane,
    site,
    wait_until,
)
from tests.engines import LOCAL_AGENT_ARGS, Engine
from tests.fence_trace import assert_one_at_a_time, read_trace, traced_command

pytestmark = pytest.mark.slow


def edge_job(
    plane: ControlPlane,
    tmp_path: Path,
    stop_s: float = 1.0,
    engine: Engine | None = None,
    agent_args: tuple[str, ...] = (),
) -> tuple[str, int, Path]:
    """Site `edge` (2 nodes x 2 T4) served by a real agent (on `engine`, else the local
    one; `agent_args`: more options), and a traced job running there. Returns the tenant's
    token, the job's id and the job's release file."""
    plane.add_site(site("edge", "T4", nodes=2, per_node=2, cpu=2))
    if engine is None:
        plane.agent("edge", [*LOCAL_AGENT_ARGS, *agent_args]).start()
    else:
        args = [*engine.agent_args, *agent_args]
        plane.agent("edge", args, engine.agent_env or None).start()
    wait_until("site edge up", lambda: plane.site_state("edge") == "up", 90)
    token = plane.tenant("t1")
    trace, release = tmp_path / "trace", tmp_path / "release"
    body: dict[str, Any] = {
        "name": "traced",
        "command": traced_command(trace, release, stop_s=stop_s),
        "accelerator_types": ["T4"],
        "accelerators_per_worker": 2,
        "cpu_per_worker": 1,
        "memory_gib_per_worker": 0.5,
    }
    job_id = plane.call("POST", "/v1/jobs", token, json=body)["id"]
    plane.wait_job(token, job_id, ("running",))
    wait_until("the first attempt runs", lambda: 1 in read_trace(trace).attempts, 30)
    return token, job_id, release


def still_running(trace: Path, since: float) -> bool:
    """The first attempt was still running at `since`: alive now, or its SIGTERM handler
    wrote that it stopped later (the trace's clock: a test that wakes late on a loaded
    machine may find it stopped since, rightly)."""
    first = read_trace(trace).attempts[1]
    return first.alive or (first.ended is not None and first.ended >= since)


def last_heard(plane: ControlPlane, site_name: str) -> float:
    agents = {a["site"]: a for a in plane.call("GET", "/v1/agents")}
    return float(agents[site_name]["last_heartbeat"])


def test_an_agent_that_loses_the_server_stops_its_runs_and_the_job_moves_only_after(
    plane: ControlPlane, tmp_path: Path, engine: Engine
) -> None:
    token, job_id, _ = edge_job(plane, tmp_path, engine=engine)
    trace = tmp_path / "trace"
    plane.kill9()
    killed = time.time()
    # Within its lease the agent leaves its run alone (it renewed the lease about a
    # heartbeat, a quarter of the timeout, before the kill; more when rounds run late).
    # Ray fixes its stop wait per job (8 s here, past the server's grace of 3 s): the agent
    # starts that much earlier, at half the lease at the earliest, to be done in time.
    lease = HEARTBEAT_TIMEOUT_S
    overrun = max(0.0, engine.grace_s - GRACE_S) if engine.name == "ray" else 0.0
    fence_after = max(lease / 2, lease - overrun)
    time.sleep(fence_after / 4)
    assert still_running(trace, since=killed + fence_after / 4), "stopped before its lease ran out"
    # Gone: its SIGTERM handler says when; an engine's kill says nothing (seen gone, then).
    wait_until("the agent stops its run", lambda: not read_trace(trace).attempts[1].alive, 30)
    stopped = read_trace(trace).attempts[1].ended or time.time()
    assert killed + fence_after / 2 <= stopped <= killed + lease + GRACE_S + 2, stopped - killed
    # The server comes back where the agent cannot reach it (another port), with a second
    # site the job may move to: it does, but only once lease and grace have passed since
    # the agent was last heard.
    plane.port = free_port()
    plane.start()
    plane.add_site(site("spare", "T4", nodes=1, per_node=2, cpu=2))  # embedded
    done = plane.wait_job(token, job_id, ("succeeded", "failed", "cancelled"), 60)
    assert done["state"] == "succeeded" and done["site"] == "spare", done
    first, second = done["runs"]
    assert first["site"] == "edge" and first["outcome"] == "lost"
    assert first["ended_at"] >= last_heard(plane, "edge") + lease + GRACE_S
    assert second["started_at"] >= first["ended_at"]
    assert "site-down" in [e["reason"] for e in done["events"]]
    attempts = assert_one_at_a_time(trace, seen_dead={1: stopped})
    assert sorted(attempts) == [1, 2] and attempts[1].how in ("stopped", "")
    if engine.name == "local":  # the live agent stopped it; its runners left it alone
        assert attempts[1].terms == 1, trace.read_text()


def test_a_dead_agents_run_is_stopped_by_its_engine_before_the_server_writes_it_off(
    plane: ControlPlane, tmp_path: Path, engine: Engine
) -> None:
    # The local engine's runners always watch the agent's lease; Slurm's and Ray's jobs do
    # where the agent's work dir is shared with the engine's nodes (here: one machine).
    fence = () if engine.name == "local" else ("--engine-fence",)
    token, job_id, _ = edge_job(plane, tmp_path, engine=engine, agent_args=fence)
    trace = tmp_path / "trace"
    plane.add_site(site("spare", "T4", nodes=1, per_node=2, cpu=2))  # embedded
    agent = plane.agents[0]
    agent.kill9()  # the agent is gone; its engine (the rank's runner) is not
    killed = time.time()
    lease = HEARTBEAT_TIMEOUT_S
    time.sleep(lease / 4)
    assert still_running(trace, since=killed + lease / 4), "stopped before its lease ran out"
    stopped = wait_until(
        "the engine stops the run", lambda: read_trace(trace).attempts[1].ended, 30
    )
    done = plane.wait_job(token, job_id, ("succeeded", "failed", "cancelled"), 60)
    assert done["state"] == "succeeded" and done["site"] == "spare", done
    first, second = done["runs"]  # restarted exactly once
    assert first["site"] == "edge" and first["outcome"] == "lost", first
    assert second["site"] == "spare" and second["started_at"] >= first["ended_at"], second
    heard = last_heard(plane, "edge")
    assert heard <= killed
    # Stopped once the lease had run out (the kept lease may say up to a second early),
    # and over (its SIGTERM handler's checkpoint included) before the server's write-off.
    assert heard + lease - 1.0 <= stopped <= first["ended_at"], (stopped - heard, first)
    assert first["ended_at"] >= heard + lease + GRACE_S
    attempts = assert_one_at_a_time(trace)  # the second started after the first ended
    assert sorted(attempts) == [1, 2] and attempts[1].how == "stopped", trace.read_text()
    assert attempts[1].terms == 1, trace.read_text()
    assert attempts[2].started >= stopped
    # The agent, back later, finds its run ended by the engine and starts nothing again.
    agent.start()
    wait_until("site edge up again", lambda: plane.site_state("edge") == "up", 60)
    backend = (
        LocalBackend(plane.root / "agent-edge" / "engine")
        if engine.name == "local"
        else engine.make(namespace=plane.namespace)
    )
    old = backend.poll([first["run_id"]])[first["run_id"]]
    assert old.state is RunState.CANCELLED and old.fenced, old
    assert plane.job(token, job_id)["runs"] == done["runs"]
    assert sorted(read_trace(trace).attempts) == [1, 2]


def test_an_agent_that_reaches_the_server_again_within_its_lease_keeps_its_runs(
    tmp_path: Path,
) -> None:
    # A lease far longer than the server's down time, its restart included, however slow
    # a loaded machine makes that: the test is about an agent heard again within it.
    plane = ControlPlane(tmp_path, server_args=["--agent-lease", "60"])
    plane.start()
    try:
        token, job_id, release = edge_job(plane, tmp_path)
        trace = tmp_path / "trace"
        plane.kill9()
        killed = time.time()
        time.sleep(HEARTBEAT_TIMEOUT_S + 2)  # down past the agent timeout, within the lease
        plane.start()
        wait_until("the agent is heard again", lambda: last_heard(plane, "edge") > killed, 30)
        time.sleep(HEARTBEAT_TIMEOUT_S + 1)  # past the restarted server's first timeout
        job = plane.job(token, job_id)
        assert job["state"] == "running" and len(job["runs"]) == 1, job
        assert read_trace(trace).attempts[1].alive
        assert plane.site_state("edge") == "up"
        release.touch()
        done = plane.wait_job(token, job_id, ("succeeded", "failed", "cancelled"))
        assert done["state"] == "succeeded" and len(done["runs"]) == 1, done
        attempts = assert_one_at_a_time(trace)
        assert list(attempts) == [1] and attempts[1].how == "finished"
    finally:
        plane.stop()


def test_a_server_killed_while_a_job_waits_for_its_old_run_starts_it_once(
    plane: ControlPlane, tmp_path: Path
) -> None:
    token, job_id, _ = edge_job(plane, tmp_path, stop_s=2.0)
    trace = tmp_path / "trace"
    node = plane.job(token, job_id)["runs"][0]["nodes"][0]
    plane.call("POST", "/v1/sites/edge/remove", json={"nodes": [node]})
    waiting = plane.wait_job(token, job_id, ("terminating",), 30)
    assert waiting["hold_reason"] == "fenced", waiting
    env = {**os.environ, "SILKROUTE_URL": plane.url, "SILKROUTE_TOKEN": token}
    shown = subprocess.run([CLI, "job", str(job_id)], env=env, capture_output=True, text=True)
    assert f"waiting: waiting for run job{job_id}-a1 on {node}" in shown.stdout, shown
    plane.kill9()  # while the old run winds down (2 s of its 3 s grace)
    plane.start()
    done = plane.wait_job(token, job_id, ("succeeded", "failed", "cancelled"), 60)
    assert done["state"] == "succeeded", done
    first, second = done["runs"]
    assert first["nodes"] == [node] and second["nodes"] != [node]
    assert second["started_at"] >= first["ended_at"]
    attempts = assert_one_at_a_time(trace)
    assert sorted(attempts) == [1, 2] and attempts[1].how == "stopped"


def test_an_agent_whose_calls_hang_on_a_frozen_server_still_stops_its_runs_at_its_lease(
    plane: ControlPlane, tmp_path: Path
) -> None:
    token, job_id, _ = edge_job(plane, tmp_path)
    trace = tmp_path / "trace"
    assert plane.proc is not None
    # Frozen, the server still accepts connections: the agent's calls hang (30 s timeout),
    # and only its separate lease check can stop the run in time.
    os.kill(plane.proc.pid, signal.SIGSTOP)
    frozen = time.time()
    try:
        stopped = wait_until(
            "the agent stops its run", lambda: read_trace(trace).attempts[1].ended, 30
        )
    finally:
        os.kill(plane.proc.pid, signal.SIGCONT)
    assert stopped <= frozen + HEARTBEAT_TIMEOUT_S + GRACE_S + 2, stopped - frozen
    # Thawed, the server hears of the stop (or writes the run off) and the job runs again.
    done = plane.wait_job(token, job_id, ("succeeded", "failed", "cancelled"), 60)
    assert done["state"] == "succeeded" and len(done["runs"]) == 2, done
    attempts = assert_one_at_a_time(trace)
    assert sorted(attempts) == [1, 2] and attempts[1].how == "stopped"


def test_an_agent_restarted_while_the_server_is_out_of_reach_stops_its_runs_in_time(
    plane: ControlPlane, tmp_path: Path
) -> None:
    token, job_id, _ = edge_job(plane, tmp_path)
    trace = tmp_path / "trace"
    agent = plane.agents[0]
    agent.kill9()
    plane.kill9()
    lost = time.time()
    agent.start()  # it cannot reach the server, so it learns nothing new: its kept lease holds
    stopped = wait_until("the agent stops its run", lambda: read_trace(trace).attempts[1].ended)
    assert stopped <= lost + HEARTBEAT_TIMEOUT_S + GRACE_S + 2, stopped - lost
    plane.start()  # back at the same address: the agent reports the run it stopped
    done = plane.wait_job(token, job_id, ("succeeded", "failed", "cancelled"), 60)
    assert done["state"] == "succeeded" and len(done["runs"]) == 2, done
    attempts = assert_one_at_a_time(trace)
    assert sorted(attempts) == [1, 2] and attempts[1].how == "stopped"


def test_a_frozen_agents_run_is_stopped_by_its_runner_and_the_thawed_agent_stops_it_no_more(
    plane: ControlPlane, tmp_path: Path
) -> None:
    token, job_id, _ = edge_job(plane, tmp_path, stop_s=2.0)
    trace = tmp_path / "trace"
    plane.add_site(site("spare", "T4", nodes=1, per_node=2, cpu=2))  # embedded
    agent = plane.agents[0]
    assert agent.proc is not None
    os.kill(agent.proc.pid, signal.SIGSTOP)  # alive, but neither renews nor says so
    frozen = time.time()
    try:
        wait_until("the runner stops the run", lambda: read_trace(trace).attempts[1].terms, 30)
    finally:
        os.kill(agent.proc.pid, signal.SIGCONT)  # mid-checkpoint
    stopped = wait_until("the run ends", lambda: read_trace(trace).attempts[1].ended, 30)
    assert stopped <= frozen + HEARTBEAT_TIMEOUT_S + GRACE_S + 2, stopped - frozen
    done = plane.wait_job(token, job_id, ("succeeded", "failed", "cancelled"), 60)
    assert done["state"] == "succeeded" and len(done["runs"]) == 2, done
    attempts = assert_one_at_a_time(trace)
    assert sorted(attempts) == [1, 2] and attempts[1].how == "stopped", trace.read_text()
    assert attempts[1].terms == 1, trace.read_text()  # one stopper: the runner
