"""The execution engines the tests run for real, as session fixtures shared by every test
directory (the conformance suite in `tests/backends`, the platform end-to-end suite in
`tests/agent`): one Slurm cluster and one Ray cluster per xdist worker, whoever asks first.

Each fixture returns an `Engine`; one whose software is missing skips with the reason.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from silkroute.backends.base import Backend, LaunchSpec, RunStatus, WorkerPlacement
from tests.backends.slurm_cluster import DaemonExited, SlurmCluster, missing_binaries


@dataclass
class Engine:
    """A started engine: how to make a back end for it (again, as after a restart)."""

    name: str
    make: Callable[..., Backend]  # make(**options): e.g. namespace= (other namespaces unseen)
    node: str  # the node name a placement uses on this engine
    root: Path  # a directory every worker can read and write
    grace_s: float  # the grace period its cancel honours in these tests
    # How a `silkroute agent` process reaches this engine: its options and environment.
    agent_args: list[str] = field(default_factory=list)
    agent_env: dict[str, str] = field(default_factory=dict)
    accounting: bool = False  # Slurm: slurmdbd runs and `sacct` (with agent_env) answers

    def spec(
        self,
        command: Sequence[str] | str,
        *,
        workers: int = 2,
        gpus: float = 0.0,
        run_id: str | None = None,
        job_id: str = "job",
        attempt: int = 0,
        checkpoint: Path | None = None,
    ) -> LaunchSpec:
        run_id = run_id or f"t-{uuid.uuid4().hex[:10]}"
        workdir = self.root / run_id
        workdir.mkdir(parents=True, exist_ok=True)
        return LaunchSpec(
            run_id=run_id,
            job_id=job_id,
            attempt=attempt,
            command=command,
            workers=[WorkerPlacement(self.node, (r,) if gpus else ()) for r in range(workers)],
            workdir=workdir,
            checkpoint_dir=checkpoint or workdir / "checkpoint",
            accelerators_per_worker=gpus,
            accelerator_type="H800" if gpus else None,
            site="test-site",
        )

    def wait(
        self,
        backend: Backend,
        run_id: str,
        until: Callable[[RunStatus], bool],
        timeout_s: float = 120.0,
    ) -> RunStatus:
        deadline = time.monotonic() + timeout_s
        status = backend.poll([run_id])[run_id]
        while not until(status):
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.name}: {run_id} still {status} after {timeout_s} s")
            time.sleep(0.3)
            status = backend.poll([run_id])[run_id]
        return status


def wait_for_files(paths: Sequence[Path], timeout_s: float = 120.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not all(p.exists() for p in paths):
        if time.monotonic() > deadline:
            missing = [str(p) for p in paths if not p.exists()]
            raise AssertionError(f"never written: {missing}")
        time.sleep(0.2)


# A test cluster whose daemon ended while it started is started again (on other ports) this
# many times in all.
START_ATTEMPTS = 3
LOCAL_AGENT_ARGS = ["--backend", "local", "--local-nodes", "2", "--accelerators", "2"]


# Every engine a suite runs against; each one's tests stay on one xdist worker
# (`--dist loadgroup`): one cluster per engine.
ENGINES = ["local", "slurm", "ray"]


@pytest.fixture(params=[pytest.param(n, marks=pytest.mark.xdist_group(n)) for n in ENGINES])
def engine(request: pytest.FixtureRequest) -> Engine:
    """Each engine in turn, through its `<name>_engine` session fixture."""
    found = request.getfixturevalue(f"{request.param}_engine")
    assert isinstance(found, Engine)
    return found


@pytest.fixture(scope="session")
def local_engine(tmp_path_factory: pytest.TempPathFactory) -> Engine:
    from silkroute.backends.local import LocalBackend

    root = tmp_path_factory.mktemp("local")
    jobs = root / "jobs"
    jobs.mkdir()
    return Engine(
        name="local",
        make=lambda namespace="silkroute": LocalBackend(root / namespace),
        node="localhost",
        root=jobs,
        grace_s=10.0,
        # This host stands for the test sites' 2 nodes x 2 accelerators (the local engine
        # reports what it is told it has; Slurm's and Ray's test clusters have that shape).
        agent_args=LOCAL_AGENT_ARGS,
    )


@pytest.fixture(scope="session")
def slurm_engine() -> Iterator[Engine]:
    missing = missing_binaries()
    if missing:
        pytest.skip(
            f"Slurm not installed ({', '.join(missing)} missing): "
            "apt-get install slurm-wlm munge (.ci/run does)"
        )
    if os.geteuid() != 0:
        pytest.skip("the test Slurm cluster runs its daemons as root")
    from silkroute.backends.slurm import SlurmBackend

    for attempt in range(1, START_ATTEMPTS + 1):  # other ports where one was taken
        root = Path(tempfile.mkdtemp(prefix="srslurm-", dir="/tmp"))
        cluster = SlurmCluster(root)
        try:
            cluster.start()
            break
        except Exception as exc:
            cluster.stop()
            shutil.rmtree(root, ignore_errors=True)
            if not isinstance(exc, DaemonExited) or attempt == START_ATTEMPTS:
                raise
    try:
        jobs = root / "jobs"
        jobs.mkdir()
        yield Engine(
            name="slurm",
            make=lambda **options: SlurmBackend(env=cluster.env, poll_interval_s=0.2, **options),
            node="n1",
            root=jobs,
            grace_s=20.0,
            agent_args=["--backend", "slurm"],
            agent_env=cluster.env,
            accounting=bool(cluster.accounting),
        )
    finally:
        cluster.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def ray_engine() -> Iterator[Engine]:
    pytest.importorskip(
        "ray.job_submission", reason="ray not installed: pip install -e '.[engines]'"
    )
    from silkroute.backends.ray import RayBackend
    from tests.backends.ray_head import NodeExited, RayHead

    for attempt in range(1, START_ATTEMPTS + 1):  # other ports where one was taken
        head = RayHead()
        try:
            head.start()
            break
        except Exception as exc:
            head.stop()
            if not isinstance(exc, NodeExited) or attempt == START_ATTEMPTS:
                raise
    jobs = Path(tempfile.mkdtemp(prefix="srrayjobs-", dir="/tmp"))
    try:
        yield Engine(
            name="ray",
            make=lambda **options: RayBackend(
                head.address, python=head.python, max_grace_s=8.0, **options
            ),
            node="n1",
            root=jobs,
            grace_s=8.0,  # Ray fixes the grace per job at submit: max_grace_s
            agent_args=[
                "--backend",
                "ray",
                "--ray-address",
                head.address,
                "--ray-python",
                head.python,
                "--ray-grace",
                "8",
            ],
        )
    finally:
        head.stop()
        shutil.rmtree(jobs, ignore_errors=True)
