"""Engine-side fencing on the shared engines: a job whose agent is gone (its lease folder no
longer touched) stops its ranks itself once the agent's lease has run out, while a live
agent's jobs wait for the agent's own stop (`backends/lease.py`). The lease folder lies in
the engine's shared root, as an agent's work dir on a file system the nodes share."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path

import pytest

from silkroute.backends.base import Backend, LaunchSpec, RunState
from silkroute.backends.lease import AGENT_SILENT_S, LEASE_FILE, read_lease
from tests.backends.conftest import Engine, wait_for_files
from tests.backends.test_local_runner import LiveAgent, keep_lease

CHECKPOINT_S = 1.0


def checkpointing(trace: Path) -> str:
    """Each rank says it is up, then, on every SIGTERM, when it got it; it takes
    CHECKPOINT_S to save and says when it is done."""
    now = "$(date +%s.%N)"
    return (
        f'T="{trace}"; '
        f'trap \'echo "term $SILKROUTE_RANK {now}" >> "$T"; sleep {CHECKPOINT_S}; '
        f'echo "saved $SILKROUTE_RANK {now}" >> "$T"; exit 0\' TERM; '
        'touch "up-$SILKROUTE_RANK"; '
        "while true; do sleep 0.05; done"
    )


def events(trace: Path, word: str) -> dict[int, list[float]]:
    found: dict[int, list[float]] = {}
    for line in trace.read_text().splitlines() if trace.exists() else []:
        what, rank, at = line.split()
        if what == word:
            found.setdefault(int(rank), []).append(float(at))
    return found


def started_gang(engine: Engine, backend: Backend, trace: Path) -> LaunchSpec:
    spec = engine.spec(checkpointing(trace), workers=2)
    backend.submit(spec)
    wait_for_files([spec.workdir / "up-0", spec.workdir / "up-1"], 90)
    return spec


@pytest.mark.xdist_group("slurm")
def test_a_slurm_job_whose_agent_is_gone_stops_its_ranks_at_the_lease(
    slurm_engine: Engine,
) -> None:
    folder = slurm_engine.root / f"lease-{uuid.uuid4().hex[:8]}"
    backend = slurm_engine.make(agent_lease=folder)
    trace = folder.parent / f"trace-{folder.name}"
    lease = keep_lease(folder, lease_s=3.0, grace_s=4.0, renewed_at=time.time())
    with LiveAgent(folder, lease, renew_s=0.5):  # the agent lives while the job starts
        spec = started_gang(slurm_engine, backend, trace)
    # The agent is gone (kill -9): nothing touches the folder any more.
    kept = read_lease(folder)
    assert kept is not None
    status = slurm_engine.wait(backend, spec.run_id, lambda s: s.state.terminal, 60)
    assert status.state is RunState.CANCELLED and status.fenced, status
    terms, saved = events(trace, "term"), events(trace, "saved")
    assert sorted(terms) == [0, 1] and all(len(t) == 1 for t in terms.values()), terms
    assert sorted(saved) == [0, 1], trace.read_text()  # each rank had its full checkpoint
    for (at,) in terms.values():
        assert kept.ends_at <= at <= kept.ends_at + 3.0, (at - kept.ends_at, kept)
    assert status.ended_at is not None and status.ended_at <= kept.kill_at + 2.0
    stderr = (spec.workdir / f"stderr-{spec.run_id}.log").read_text()
    assert "the agent is gone and its lease ran out" in stderr


@pytest.mark.xdist_group("slurm")
def test_a_slurm_job_of_a_live_agent_that_lost_the_server_waits_for_the_agents_stop(
    slurm_engine: Engine,
) -> None:
    folder = slurm_engine.root / f"lease-{uuid.uuid4().hex[:8]}"
    backend = slurm_engine.make(agent_lease=folder)
    trace = folder.parent / f"trace-{folder.name}"
    lease = keep_lease(folder, lease_s=2.0, grace_s=4.0, renewed_at=time.time())
    with LiveAgent(folder, lease):  # alive, but the lease is not renewed
        spec = started_gang(slurm_engine, backend, trace)
        time.sleep(max(0.0, lease.ends_at + AGENT_SILENT_S + 2.0 - time.time()))
        assert backend.poll([spec.run_id])[spec.run_id].state is RunState.RUNNING
        assert not events(trace, "term"), trace.read_text()
        backend.cancel(spec.run_id, grace_s=slurm_engine.grace_s)  # the agent's own fence
    status = backend.poll([spec.run_id])[spec.run_id]
    assert status.state is RunState.CANCELLED and not status.fenced, status
    terms = events(trace, "term")
    assert sorted(terms) == [0, 1] and all(len(t) == 1 for t in terms.values()), terms


def test_the_kept_lease_reads_as_the_agent_writes_it(tmp_path: Path) -> None:
    lease = keep_lease(tmp_path, lease_s=2.5, grace_s=4.0, renewed_at=1_764_000_000.25)
    assert read_lease(tmp_path) == lease
    (tmp_path / LEASE_FILE).write_text(json.dumps({"lease_s": 2.5}))
    assert read_lease(tmp_path) is None


@pytest.mark.xdist_group("ray")
def test_a_ray_job_whose_agent_is_gone_stops_its_gang_at_the_lease(ray_engine: Engine) -> None:
    folder = ray_engine.root / f"lease-{uuid.uuid4().hex[:8]}"
    backend = ray_engine.make(agent_lease=folder)
    trace = folder.parent / f"trace-{folder.name}"
    lease = keep_lease(folder, lease_s=3.0, grace_s=4.0, renewed_at=time.time())
    with LiveAgent(folder, lease, renew_s=0.5):
        spec = started_gang(ray_engine, backend, trace)
    kept = read_lease(folder)
    assert kept is not None
    status = ray_engine.wait(backend, spec.run_id, lambda s: s.state.terminal, 60)
    assert status.state is RunState.CANCELLED and status.fenced, status
    terms, saved = events(trace, "term"), events(trace, "saved")
    assert sorted(terms) == [0, 1] and all(len(t) == 1 for t in terms.values()), terms
    assert sorted(saved) == [0, 1], trace.read_text()
    for (at,) in terms.values():
        assert kept.ends_at <= at <= kept.ends_at + 3.0, (at - kept.ends_at, kept)
    assert status.ended_at is not None and status.ended_at <= kept.kill_at + 2.0


@pytest.mark.xdist_group("ray")
def test_a_ray_job_of_a_live_agent_that_lost_the_server_waits_for_the_agents_stop(
    ray_engine: Engine,
) -> None:
    folder = ray_engine.root / f"lease-{uuid.uuid4().hex[:8]}"
    backend = ray_engine.make(agent_lease=folder)
    trace = folder.parent / f"trace-{folder.name}"
    lease = keep_lease(folder, lease_s=2.0, grace_s=4.0, renewed_at=time.time())
    with LiveAgent(folder, lease):
        spec = started_gang(ray_engine, backend, trace)
        time.sleep(max(0.0, lease.ends_at + AGENT_SILENT_S + 2.0 - time.time()))
        assert backend.poll([spec.run_id])[spec.run_id].state is RunState.RUNNING
        assert not events(trace, "term"), trace.read_text()
        backend.cancel(spec.run_id, grace_s=ray_engine.grace_s)
    status = backend.poll([spec.run_id])[spec.run_id]
    assert status.state is RunState.CANCELLED and not status.fenced, status
    terms = events(trace, "term")
    assert sorted(terms) == [0, 1] and all(len(t) == 1 for t in terms.values()), terms
