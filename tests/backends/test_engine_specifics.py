"""Where engines differ on purpose: time limits, and gangs larger than the cluster."""

from __future__ import annotations

import time
from dataclasses import replace

import pytest

from silkroute.backends.base import BackendError, RunState, WorkerPlacement
from silkroute.backends.ray_gang import TIME_LIMIT_EXIT_CODE
from tests.backends.conftest import Engine

WAIT_FOREVER = 'touch "ready-$SILKROUTE_RANK"; sleep 120'


@pytest.mark.xdist_group("ray")
def test_ray_stops_a_gang_past_its_time_limit_and_fails_it(ray_engine: Engine) -> None:
    backend = ray_engine.make()
    spec = replace(ray_engine.spec(WAIT_FOREVER), time_limit_s=3.0)
    started = time.monotonic()
    backend.submit(spec)
    status = ray_engine.wait(backend, spec.run_id, lambda s: s.state.terminal, timeout_s=90)

    assert status.state is RunState.FAILED, status
    assert status.exit_code == TIME_LIMIT_EXIT_CODE
    assert time.monotonic() - started < 60


@pytest.mark.xdist_group("ray")
def test_ray_holds_a_gang_larger_than_the_cluster_without_starting_any_rank(
    ray_engine: Engine,
) -> None:
    backend = ray_engine.make()
    spec = ray_engine.spec(WAIT_FOREVER, workers=5, gpus=1)  # the cluster has 4 GPUs
    backend.submit(spec)
    deadline = time.monotonic() + 60
    while "waiting for 5 bundles" not in backend.logs(spec.run_id):  # type: ignore[attr-defined]
        assert time.monotonic() < deadline, backend.logs(spec.run_id)  # type: ignore[attr-defined]
        time.sleep(0.5)
    time.sleep(2.0)

    assert backend.poll([spec.run_id])[spec.run_id].state is RunState.RUNNING
    assert not list(spec.workdir.glob("ready-*")), "a rank of an unplaced gang started"
    backend.cancel(spec.run_id, grace_s=ray_engine.grace_s)
    assert backend.poll([spec.run_id])[spec.run_id].state is RunState.CANCELLED


@pytest.mark.xdist_group("slurm")
def test_slurm_refuses_a_gang_larger_than_the_cluster(slurm_engine: Engine) -> None:
    backend = slurm_engine.make()
    spec = slurm_engine.spec(WAIT_FOREVER, workers=5, gpus=1)  # the cluster has 4 GPUs

    with pytest.raises(BackendError, match="sbatch failed"):
        backend.submit(spec)
    # Slurm may keep the refused job as FAILED (BadConstraints); it never runs.
    time.sleep(2.0)
    assert backend.poll([spec.run_id])[spec.run_id].state.terminal
    assert not list(spec.workdir.glob("ready-*"))


def test_ray_without_a_head_is_an_error_naming_the_address() -> None:
    pytest.importorskip("ray.job_submission", reason="ray not installed")
    from silkroute.backends.ray import RayBackend

    with pytest.raises(BackendError, match=r"cannot reach the job API at http://127\.0\.0\.1:1"):
        RayBackend("http://127.0.0.1:1")


@pytest.mark.xdist_group("slurm")
def test_slurm_runs_each_rank_on_the_node_its_placement_names(slurm_engine: Engine) -> None:
    backend = slurm_engine.make(pin_nodes=True)
    spec = slurm_engine.spec(
        'echo "$SLURMD_NODENAME $SILKROUTE_ACCELERATORS" > "where-$SILKROUTE_RANK"', gpus=2
    )
    # Against Slurm's own node order: rank 0 on n2, rank 1 on n1, each with both its GPUs.
    spec = replace(spec, workers=[WorkerPlacement("n2", (0, 1)), WorkerPlacement("n1", (0, 1))])
    backend.submit(spec)
    status = slurm_engine.wait(backend, spec.run_id, lambda s: s.state.terminal)

    assert status.state is RunState.SUCCEEDED, status
    where = [(spec.workdir / f"where-{r}").read_text().split() for r in range(2)]
    assert [w[0] for w in where] == ["n2", "n1"]
    assert all(len(w[1].split(",")) == 2 for w in where)
    assert backend.usage([spec.run_id])[spec.run_id].accelerators == 4.0


@pytest.mark.xdist_group("ray")
def test_ray_runs_each_rank_on_the_node_its_placement_names(ray_engine: Engine) -> None:
    backend = ray_engine.make(pin_nodes=True)
    spec = ray_engine.spec('echo "$SILKROUTE_ACCELERATORS" > "where-$SILKROUTE_RANK"', gpus=2)
    spec = replace(spec, workers=[WorkerPlacement("n2", (0, 1)), WorkerPlacement("n1", (0, 1))])
    backend.submit(spec)
    status = ray_engine.wait(backend, spec.run_id, lambda s: s.state.terminal)

    assert status.state is RunState.SUCCEEDED, status
    logs = backend.logs(spec.run_id)  # type: ignore[attr-defined]
    assert "rank 0 on node n2" in logs and "rank 1 on node n1" in logs, logs
    assert all(
        len((spec.workdir / f"where-{r}").read_text().strip().split(",")) == 2 for r in range(2)
    )


@pytest.mark.xdist_group("slurm")
def test_slurm_fails_a_gang_with_its_failing_rank_s_code_when_another_dies_starting_up(
    slurm_engine: Engine,
) -> None:
    """Rank 0's bash is held in its own start-up (`BASH_ENV`, read before the rank script's
    first command, where its TERM trap is set) until Slurm stops it because rank 1 exited 7:
    it dies by SIGTERM, and the gang must still fail with 7, not 143."""
    backend = slurm_engine.make()
    spec = slurm_engine.spec(
        'if [ "$SILKROUTE_RANK" = 1 ]; then '
        "while [ ! -e starting-0 ]; do sleep 0.05; done; exit 7; fi; "
        ": > reached-0; sleep 60"
    )
    startup = spec.workdir / "slow-startup.sh"
    startup.write_text(
        'if [ "$SLURM_PROCID" = 0 ]; then : > starting-0; while :; do sleep 0.05; done; fi\n'
    )
    spec = replace(spec, env={"BASH_ENV": str(startup)})
    started = time.monotonic()
    backend.submit(spec)
    status = slurm_engine.wait(backend, spec.run_id, lambda s: s.state.terminal)

    assert (spec.workdir / "starting-0").exists()
    assert not (spec.workdir / "reached-0").exists(), "rank 0 got past its start-up"
    assert status.state is RunState.FAILED, status
    assert status.exit_code == 7, status
    assert time.monotonic() - started < 50, "rank 0 was not stopped with the gang"
    stderr = (spec.workdir / f"stderr-{spec.run_id}.log").read_text()
    assert "rank 1 failed first, with exit code 7" in stderr
    assert not list(spec.workdir.glob(".silkroute-failed-*")), "the failure record was left"
