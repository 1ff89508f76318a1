"""The local back end's per-rank runner (`backends/local_runner.py`) with real processes: a
stop that comes at any moment of a rank's start ends it, and a runner whose agent is gone
stops its rank once the agent's lease has run out (engine-side fencing)."""

from __future__ import annotations

import json
import math
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from silkroute.backends.base import LaunchSpec, RunState, WorkerPlacement
from silkroute.backends.lease import (
    AGENT_SILENT_S,
    LEASE_FILE,
    FenceAction,
    Lease,
    fence_action,
    touch_alive,
)
from silkroute.backends.local import LocalBackend
from silkroute.backends.local_runner import write_atomically
from silkroute.backends.sandbox import SandboxMode, make_sandbox, unusable_reason
from tests.platform.conftest import WAIT_S

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


# ----- engine-side fencing ------------------------------------------------------------------
# Writes one "term" line per SIGTERM it gets, then takes CHECKPOINT_S to save and ends: a
# second SIGTERM during the save shows as a second line (the shell runs the trap again).
CHECKPOINT_S = 1.0
# Each touches `trapped-<rank>` in its run folder once its trap is set.
CHECKPOINTING = (
    f"trap 'echo term; sleep {CHECKPOINT_S}; echo saved; exit 0' TERM; "
    ': > "trapped-$SILKROUTE_RANK"; while true; do sleep 0.05; done'
)
IGNORES_SIGTERM = "trap '' TERM; : > \"trapped-$SILKROUTE_RANK\"; while true; do sleep 0.05; done"


def lease_once_trapped(
    tmp_path: Path, run_id: str, folder: Path, lease_s: float, grace_s: float, ranks: int = 1
) -> Lease:
    """A lease that runs from now, kept once every rank of the run has set its trap: the
    runners (no lease until then: nothing to enforce) fence from its end, however long a
    loaded machine took to start them, and the ranks' SIGTERM handlers are in place."""
    run = tmp_path / "runs" / run_id
    for rank in range(ranks):
        wait_until_text(run / f"trapped-{rank}", "")
    return keep_lease(folder, lease_s, grace_s, renewed_at=time.time())


def keep_lease(folder: Path, lease_s: float, grace_s: float, renewed_at: float) -> Lease:
    """The lease as the agent keeps it (`SiteAgent._save_lease`)."""
    folder.mkdir(parents=True, exist_ok=True)
    body = {"lease_s": lease_s, "grace_s": grace_s, "renewed_at": renewed_at}
    write_atomically(folder / LEASE_FILE, json.dumps(body))
    return Lease(lease_s, grace_s, renewed_at)


class LiveAgent:
    """What a live agent's lease thread does to the lease folder: touch `alive` each
    `every_s`; `renew_s`, where set, also renews the lease that often (the control plane
    answers)."""

    def __init__(self, folder: Path, lease: Lease, renew_s: float | None = None) -> None:
        self.folder, self.lease, self.renew_s = folder, lease, renew_s
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> LiveAgent:
        touch_alive(self.folder)
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop.set()
        self.thread.join()

    def _run(self) -> None:
        renewed = time.time()
        while not self.stop.wait(0.2):
            touch_alive(self.folder)
            if self.renew_s is not None and time.time() - renewed >= self.renew_s:
                renewed = time.time()
                keep_lease(self.folder, self.lease.lease_s, self.lease.grace_s, renewed)


def wait_ended(backend: LocalBackend, run_id: str, timeout_s: float = 30.0) -> tuple[float, Any]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        status = backend.poll([run_id])[run_id]
        if status.state.terminal:
            return time.time(), status
        time.sleep(0.05)
    raise AssertionError(f"{run_id} still runs after {timeout_s} s")


def stdout(tmp_path: Path, run_id: str, rank: int = 0) -> list[str]:
    return (tmp_path / "runs" / run_id / f"stdout-{rank}.log").read_text().split()


@pytest.mark.parametrize(
    ("lease", "silent_s", "now", "stopping", "action"),
    [
        pytest.param(None, math.inf, 100.0, False, FenceAction.NONE, id="no-lease-no-fence"),
        pytest.param(Lease(10, 5, 90), math.inf, 99.9, False, FenceAction.NONE, id="lease-holds"),
        pytest.param(Lease(10, 5, 90), 1.0, 101.0, False, FenceAction.NONE, id="agent-alive"),
        pytest.param(Lease(10, 5, 90), 3.0, 100.0, False, FenceAction.STOP, id="agent-gone"),
        pytest.param(Lease(10, 5, 90), 9.0, 102.0, True, FenceAction.NONE, id="stop-under-way"),
        pytest.param(Lease(10, 5, 90), 9.0, 105.0, True, FenceAction.KILL, id="grace-over"),
        pytest.param(Lease(10, 5, 90), 9.0, 106.0, False, FenceAction.KILL, id="late-kill"),
        pytest.param(Lease(10, 5, 90), 1.0, 106.0, True, FenceAction.NONE, id="alive-kills"),
    ],
)
def test_a_runner_fences_only_past_the_lease_with_its_agent_gone(
    lease: Lease | None, silent_s: float, now: float, stopping: bool, action: FenceAction
) -> None:
    assert fence_action(lease, silent_s, now, stopping) is action


def test_a_rank_whose_agent_is_gone_is_stopped_at_the_lease_and_reported_fenced(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "lease"
    backend = LocalBackend(tmp_path / "state", agent_lease=folder)
    backend.submit(spec(tmp_path, "r1", CHECKPOINTING, workers=2))  # no `alive`: agent gone
    lease = lease_once_trapped(tmp_path, "r1", folder, lease_s=2.0, grace_s=3.0, ranks=2)
    ended, status = wait_ended(backend, "r1")
    assert status.state is RunState.CANCELLED and status.fenced, status
    assert lease.ends_at <= ended <= lease.kill_at + 2.0, (ended - lease.ends_at, status)
    for rank in (0, 1):
        assert stdout(tmp_path, "r1", rank) == ["term", "saved"]  # one SIGTERM, a full save
        stderr = (tmp_path / "runs" / "r1" / f"stderr-{rank}.log").read_text()
        assert "its agent is gone and its lease ran out" in stderr


def test_a_rank_that_ignores_sigterm_is_killed_at_the_lease_plus_the_grace(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "lease"
    backend = LocalBackend(tmp_path / "state", agent_lease=folder)
    backend.submit(spec(tmp_path, "r1", IGNORES_SIGTERM))
    lease = lease_once_trapped(tmp_path, "r1", folder, lease_s=1.5, grace_s=1.5)
    ended, status = wait_ended(backend, "r1")
    assert status.state is RunState.CANCELLED and status.fenced, status
    assert lease.kill_at <= ended <= lease.kill_at + 2.0, ended - lease.kill_at


def test_a_live_agent_that_lost_the_control_plane_stops_its_runs_alone(tmp_path: Path) -> None:
    folder = tmp_path / "lease"
    backend = LocalBackend(tmp_path / "state", agent_lease=folder)
    lease = keep_lease(folder, lease_s=1.0, grace_s=3.0, renewed_at=time.time())
    with LiveAgent(folder, lease):  # alive, but the lease is never renewed
        backend.submit(spec(tmp_path, "r1", CHECKPOINTING))
        time.sleep(lease.lease_s + AGENT_SILENT_S + 1.0)  # a dead agent's would be stopped
        assert backend.poll(["r1"])["r1"].state is RunState.RUNNING
        backend.cancel("r1", grace_s=lease.grace_s)  # the agent's own fence
    _, status = wait_ended(backend, "r1")
    assert status.state is RunState.CANCELLED and not status.fenced, status
    assert stdout(tmp_path, "r1") == ["term", "saved"]


def test_an_agent_restarted_within_its_lease_keeps_its_runs(tmp_path: Path) -> None:
    folder = tmp_path / "lease"
    backend = LocalBackend(tmp_path / "state", agent_lease=folder)
    # Long enough that the restarted agent below surely renews it in time, however late a
    # loaded machine wakes the test from its second.
    lease = keep_lease(folder, lease_s=4.0, grace_s=3.0, renewed_at=time.time())
    backend.submit(spec(tmp_path, "r1", CHECKPOINTING))
    # The agent was killed (no `alive`); a new one starts a second later and renews.
    time.sleep(1.0)
    restarted = LocalBackend(tmp_path / "state", agent_lease=folder)
    with LiveAgent(folder, lease, renew_s=0.5):
        time.sleep(lease.lease_s + AGENT_SILENT_S + 1.0)
        assert restarted.poll(["r1"])["r1"].state is RunState.RUNNING
    restarted.cancel("r1", grace_s=lease.grace_s)
    _, status = wait_ended(restarted, "r1")
    assert status.state is RunState.CANCELLED and not status.fenced, status
    assert stdout(tmp_path, "r1") == ["term", "saved"]


def test_an_agent_back_while_its_runner_fences_sends_no_second_sigterm(tmp_path: Path) -> None:
    folder = tmp_path / "lease"
    backend = LocalBackend(tmp_path / "state", agent_lease=folder)
    backend.submit(spec(tmp_path, "r1", CHECKPOINTING))
    lease = lease_once_trapped(tmp_path, "r1", folder, lease_s=1.0, grace_s=5.0)
    log = tmp_path / "runs" / "r1" / "stdout-0.log"
    wait_until_text(log, "term")
    # The restarted agent finds its kept lease run out and stops what still runs.
    restarted = LocalBackend(tmp_path / "state", agent_lease=folder)
    assert restarted.poll(["r1"])["r1"].state is RunState.RUNNING
    restarted.cancel("r1", grace_s=lease.grace_s)
    _, status = wait_ended(restarted, "r1")
    assert status.state is RunState.CANCELLED and status.fenced, status
    assert stdout(tmp_path, "r1") == ["term", "saved"]


def test_a_sandboxed_runner_reads_its_agents_lease(tmp_path: Path) -> None:
    reason = unusable_reason()
    if reason is not None:
        pytest.skip(reason)
    folder = tmp_path / "agent" / "lease"  # inside the agent's private work dir
    folder.mkdir(parents=True)  # the sandbox shows it to the rank, the lease kept later
    sandbox = make_sandbox(SandboxMode.BWRAP, [tmp_path / "agent"])
    backend = LocalBackend(tmp_path / "state", agent_lease=folder, sandbox=sandbox)
    backend.submit(spec(tmp_path, "r1", CHECKPOINTING))
    lease = lease_once_trapped(tmp_path, "r1", folder, lease_s=1.5, grace_s=3.0)
    ended, status = wait_ended(backend, "r1")
    assert status.state is RunState.CANCELLED and status.fenced, status
    assert lease.ends_at <= ended <= lease.kill_at + 2.0
    assert stdout(tmp_path, "r1") == ["term", "saved"]


def wait_until_text(path: Path, text: str, timeout_s: float = WAIT_S) -> None:
    deadline = time.monotonic() + timeout_s
    while not (path.exists() and text in path.read_text()):
        assert time.monotonic() < deadline, f"{path} never said {text!r}"
        time.sleep(0.05)
