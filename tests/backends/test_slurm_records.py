"""Where the Slurm back end finds a run the controller has forgotten: in `sacct` on a site with
accounting (slurmdbd), in the job completion log on a site without. Each case starts a cluster
of its own, since it wipes the controller's state."""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from silkroute.backends.base import RunState, RunStatus
from silkroute.backends.slurm import SlurmBackend
from tests.backends.slurm_cluster import (
    SlurmCluster,
    missing_accounting_binaries,
    missing_binaries,
)
from tests.engines import Engine


@pytest.fixture(params=[False, True], ids=["completion log", "sacct"])
def cluster(request: pytest.FixtureRequest) -> Iterator[SlurmCluster]:
    if missing_binaries():
        pytest.skip("Slurm not installed: apt-get install slurm-wlm munge (.ci/run does)")
    if os.geteuid() != 0:
        pytest.skip("the test Slurm cluster runs its daemons as root")
    accounting: bool = request.param
    if accounting and missing_accounting_binaries():
        pytest.skip(
            f"no Slurm accounting ({', '.join(missing_accounting_binaries())} missing): "
            "apt-get install slurmdbd mariadb-server (.ci/run does)"
        )
    root = Path(tempfile.mkdtemp(prefix="srslurm-", dir="/tmp"))
    started = SlurmCluster(root, accounting=accounting)
    try:
        started.start()
        yield started
    finally:
        started.stop()
        shutil.rmtree(root, ignore_errors=True)


def found(backend: SlurmBackend, run_id: str, timeout_s: float = 30.0) -> RunStatus:
    """The run's status once the back end finds it (slurmdbd may lag a moment)."""
    deadline = time.monotonic() + timeout_s
    while (status := backend.poll([run_id])[run_id]).state is RunState.LOST:
        assert time.monotonic() < deadline, status
        time.sleep(0.3)
    return status


def test_a_run_the_controller_forgot_is_found_in_the_site_s_records(
    cluster: SlurmCluster,
) -> None:
    jobs = cluster.root / "jobs"
    jobs.mkdir()
    engine = Engine(
        name="slurm",
        make=lambda **options: SlurmBackend(env=cluster.env, poll_interval_s=0.2, **options),
        node="n1",
        root=jobs,
        grace_s=20.0,
    )
    backend = engine.make()
    assert backend.site_records().accounting is bool(cluster.accounting)
    spec = engine.spec("sleep 1.5; exit 3", workers=2, gpus=1)
    backend.submit(spec)
    ended = engine.wait(backend, spec.run_id, lambda s: s.state.terminal)
    assert (ended.state, ended.exit_code) == (RunState.FAILED, 3), ended
    if cluster.accounting:  # what the controller forgets must be in slurmdbd first
        found(backend, spec.run_id)

    cluster.forget_jobs()
    assert "No jobs" in cluster.scontrol("-o", "show", "job")
    after = engine.make()  # a new back end, as after an agent restart
    status = found(after, spec.run_id)

    assert (status.state, status.exit_code) == (ended.state, ended.exit_code), status
    assert (status.started_at, status.ended_at) == (ended.started_at, ended.ended_at)
    assert [s.run_id for s in after.list_runs()] == [spec.run_id]
    assert after.submit(spec).state is RunState.FAILED  # known: not submitted again
    assert "No jobs" in cluster.scontrol("-o", "show", "job")
    usage = after.usage([spec.run_id])
    if cluster.accounting:  # AllocTRES x ElapsedRaw
        assert usage[spec.run_id].accelerators == 2.0
        assert usage[spec.run_id].elapsed_s == ended.ended_at - ended.started_at  # type: ignore[operator]
    else:  # the completion log keeps no GRES
        assert usage == {}
