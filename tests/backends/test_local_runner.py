"""The local back end's per-rank runner (`backends/local_runner.py`) with real processes: a
stop that comes at any moment of a rank's start ends it, and a runner whose agent is gone
stops its rank once the agent's lease has run out (engine-side fencing)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from silkroute.backends.base import LaunchSpec, RunState, WorkerPlacement
from silkroute.backends.local import LocalBackend

# Runs until stopped; on SIGTERM says so and ends at once.
STOPPABLE = "trap 'echo stopped; exit 0' TERM; while true; do sleep 0.05; done"


def spec(tmp_path: Path, run_id: str, command: str, workers: int = 1) -> LaunchSpec:
    return LaunchSpec(
        run_id=run_id,
        job_id="7",
        attempt=1,
        command=command,
        workers=[WorkerPlacement(f"node-{r}", ()) for r in range(workers)],
        workdir=tmp_path / "runs" / run_id,
        checkpoint_dir=tmp_path / "ckpt",
        site="hanoi",
    )


@pytest.mark.parametrize("delay_s", [0.0, 0.01, 0.03, 0.06, 0.1, 0.2])
def test_a_stop_at_any_moment_of_a_ranks_start_ends_it_without_waiting_for_the_kill(
    tmp_path: Path, delay_s: float
) -> None:
    # The grace is long: a stop that reached no process would show as a run that ends only
    # at the kill, the grace later.
    grace_s = 8.0
    backend = LocalBackend(tmp_path / "state")
    for attempt in range(3):
        run_id = f"r{attempt}"
        backend.submit(spec(tmp_path, run_id, STOPPABLE, workers=2))
        time.sleep(delay_s)
        began = time.monotonic()
        backend.cancel(run_id, grace_s=grace_s)
        took = time.monotonic() - began
        status = backend.poll([run_id])[run_id]
        assert status.state is RunState.CANCELLED, status
        assert took < grace_s / 2, f"attempt {attempt}: the stop took {took:.1f} s (a kill)"
