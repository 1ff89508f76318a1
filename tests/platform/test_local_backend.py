"""The local back end on its own: real subprocesses, restarts modelled as fresh instances."""

from __future__ import annotations

import dataclasses
import os
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from silkroute.backends.base import BackendError, LaunchSpec, RunState, WorkerPlacement
from silkroute.backends.local import LocalBackend
from tests.platform.conftest import WAIT_S


def spec(tmp_path: Path, run_id: str, command: str, workers: int = 1) -> LaunchSpec:
    return LaunchSpec(
        run_id=run_id,
        job_id="7",
        attempt=1,
        command=command,
        workers=[WorkerPlacement(f"node-{r}", (r,)) for r in range(workers)],
        workdir=tmp_path / "runs" / run_id,
        checkpoint_dir=tmp_path / "ckpt",
        site="hanoi",
        accelerator_type="A800",
    )


def wait_state(backend: LocalBackend, run_id: str, timeout: float = WAIT_S) -> RunState:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = backend.poll([run_id])[run_id].state
        if state.terminal:
            return state
        time.sleep(0.05)
    raise AssertionError(f"{run_id} did not end")


def wait_ready(out: Path) -> None:
    deadline = time.monotonic() + WAIT_S
    while "ready" not in (out.read_text() if out.exists() else ""):
        assert time.monotonic() < deadline, f"{out} never said ready"
        time.sleep(0.05)


def test_every_rank_gets_the_job_contract(tmp_path: Path) -> None:
    backend = LocalBackend(tmp_path / "state")
    command = 'echo "$SILKROUTE_RANK/$SILKROUTE_WORLD_SIZE $SILKROUTE_ACCELERATORS $SILKROUTE_SITE"'
    backend.submit(spec(tmp_path, "r1", command, workers=2))
    assert wait_state(backend, "r1") is RunState.SUCCEEDED
    outputs = [p.read_text().strip() for p in backend.log_paths("r1") if "stdout" in p.name]
    assert outputs == ["0/2 0 hanoi", "1/2 1 hanoi"]


def test_a_job_inherits_what_a_program_needs_but_never_the_platforms_own_variables(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SILKROUTE_AGENT_TOKEN", "sr_agent-secret")
    monkeypatch.setenv("SILKROUTE_DATABASE_URL", "postgresql://silk:pw@db/silkroute")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "cloud-secret")
    monkeypatch.setenv("LC_TIME", "th_TH.UTF-8")
    monkeypatch.setenv("TZ", "Asia/Bangkok")
    backend = LocalBackend(tmp_path / "state")
    launch = dataclasses.replace(spec(tmp_path, "r1", "env"), env={"MODEL": "sea-lion"})
    backend.submit(launch)
    assert wait_state(backend, "r1") is RunState.SUCCEEDED
    env = dict(
        line.split("=", 1)
        for line in (tmp_path / "runs" / "r1" / "stdout-0.log").read_text().splitlines()
        if "=" in line
    )
    assert "secret" not in str(env) and "pw@" not in str(env)
    assert {k: env.get(k) for k in ("MODEL", "SILKROUTE_SITE", "LC_TIME", "TZ")} == {
        "MODEL": "sea-lion",
        "SILKROUTE_SITE": "hanoi",
        "LC_TIME": "th_TH.UTF-8",
        "TZ": "Asia/Bangkok",
    }
    assert env["PATH"].split(os.pathsep)[0] == str(Path(sys.executable).parent)


def test_an_environment_no_process_can_take_is_refused_not_retried_forever(
    tmp_path: Path,
) -> None:
    # A BackendError is what the agent reports as a failed launch; anything else it retries
    # every round, leaving the job `starting` for ever.
    backend = LocalBackend(tmp_path / "state")
    bad = dataclasses.replace(spec(tmp_path, "r1", "true"), env={"A=B": "1"})
    with pytest.raises(BackendError, match="environment"):
        backend.submit(bad)


def test_a_repeated_submit_does_not_start_the_run_again(tmp_path: Path) -> None:
    marker = tmp_path / "starts"
    command = f"echo x >> {marker}; sleep 0.5"
    first = LocalBackend(tmp_path / "state")
    first.submit(spec(tmp_path, "r1", command))
    # A restarted server is a fresh instance over the same files.
    again = LocalBackend(tmp_path / "state")
    assert again.submit(spec(tmp_path, "r1", command)).state is RunState.RUNNING
    assert [s.run_id for s in again.list_runs() if s.state is RunState.RUNNING] == ["r1"]
    assert wait_state(again, "r1") is RunState.SUCCEEDED
    assert marker.read_text().split() == ["x"]


def test_a_run_cut_short_before_its_ranks_started_starts_on_the_next_submit(tmp_path: Path) -> None:
    backend = LocalBackend(tmp_path / "state")
    launch = spec(tmp_path, "r1", "echo hi", workers=2)
    backend.submit(launch)
    assert wait_state(backend, "r1") is RunState.SUCCEEDED
    # As if the server died after recording the run but before starting rank 1.
    workdir = launch.workdir
    for name in ("started-1", "exit-1", "lock-1"):
        (workdir / name).unlink()
    found = LocalBackend(tmp_path / "state").poll(["r1"])["r1"]
    assert (found.state, found.submit_cut_short) == (RunState.QUEUED, True)
    LocalBackend(tmp_path / "state").submit(launch)
    assert wait_state(backend, "r1") is RunState.SUCCEEDED
    assert not backend.poll(["r1"])["r1"].submit_cut_short


def test_a_submit_finishing_a_cut_short_run_starts_it_where_the_run_was_recorded(
    tmp_path: Path,
) -> None:
    # A restarted agent given another --work-dir names another folder: the rank must still
    # start in the run's own, where its state is read, or it would look unstarted for ever.
    backend = LocalBackend(tmp_path / "state")
    launch = spec(tmp_path, "r1", "echo hi")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(LocalBackend, "_spawn_if_never_started", die_before_rank(0))
        with pytest.raises(KeyboardInterrupt):
            backend.submit(launch)
    restarted = LocalBackend(tmp_path / "state")
    restarted.submit(dataclasses.replace(launch, workdir=tmp_path / "elsewhere" / "r1"))
    assert wait_state(restarted, "r1") is RunState.SUCCEEDED
    assert (launch.workdir / "stdout-0.log").read_text() == "hi\n"
    assert not (tmp_path / "elsewhere").exists()


def die_before_rank(dying: int) -> Any:
    """`_spawn_if_never_started` as if the process died just before starting rank `dying`."""
    real_spawn = LocalBackend._spawn_if_never_started

    def spawn(self: LocalBackend, spec: LaunchSpec, rank: int) -> None:
        if rank == dying:
            raise KeyboardInterrupt("the process died here")
        real_spawn(self, spec, rank)

    return spawn


def test_a_gang_whose_submit_was_cut_short_after_its_first_rank_says_so_while_that_rank_runs(
    tmp_path: Path,
) -> None:
    # Killed between starting rank 0 and rank 1: the run looks RUNNING, yet rank 1 would
    # never start unless the engine says the submit is unfinished (the agent submits again).
    backend = LocalBackend(tmp_path / "state")
    launch = spec(tmp_path, "r1", 'test "$SILKROUTE_RANK" = 1 || sleep 30', workers=2)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(LocalBackend, "_spawn_if_never_started", die_before_rank(1))
        with pytest.raises(KeyboardInterrupt):
            backend.submit(launch)
    restarted = LocalBackend(tmp_path / "state")
    found = restarted.poll(["r1"])["r1"]
    assert (found.state, found.submit_cut_short) == (RunState.RUNNING, True)
    restarted.submit(launch)
    deadline = time.monotonic() + WAIT_S
    while not (launch.workdir / "exit-1").exists():
        assert time.monotonic() < deadline, "rank 1 never ran"
        time.sleep(0.05)
    found = restarted.poll(["r1"])["r1"]
    assert (found.state, found.submit_cut_short) == (RunState.RUNNING, False)
    restarted.cancel("r1", grace_s=5)
    assert (launch.workdir / "exit-1").read_text().strip() == "0"
    assert not restarted.poll(["r1"])["r1"].submit_cut_short  # stopped: nothing to finish


def test_cancel_from_a_restarted_instance_stops_the_whole_group(tmp_path: Path) -> None:
    marker = tmp_path / "term"
    command = f"trap 'echo term >> {marker}; exit 0' TERM; echo ready; while :; do sleep 0.05; done"
    LocalBackend(tmp_path / "state").submit(spec(tmp_path, "r1", command))
    wait_ready(tmp_path / "runs" / "r1" / "stdout-0.log")
    restarted = LocalBackend(tmp_path / "state")
    restarted.cancel("r1", grace_s=5)
    assert restarted.poll(["r1"])["r1"].state is RunState.CANCELLED
    assert marker.read_text().split() == ["term"]


def test_a_command_that_ignores_sigterm_is_killed_after_the_grace(tmp_path: Path) -> None:
    command = "trap '' TERM; echo ready; while :; do sleep 0.05; done"
    backend = LocalBackend(tmp_path / "state")
    backend.submit(spec(tmp_path, "r1", command))
    wait_ready(tmp_path / "runs" / "r1" / "stdout-0.log")  # it ignores SIGTERM from here on
    started = time.monotonic()
    backend.cancel("r1", grace_s=0.5)
    assert time.monotonic() - started < 5
    assert backend.poll(["r1"])["r1"].state is RunState.CANCELLED
    assert backend.list_runs()[0].state is RunState.CANCELLED


def test_a_missing_program_fails_with_127(tmp_path: Path) -> None:
    backend = LocalBackend(tmp_path / "state")
    launch = dataclasses.replace(spec(tmp_path, "r1", ""), command=["/no/such/program"])
    backend.submit(launch)
    status = backend.poll(["r1"])["r1"]
    deadline = time.monotonic() + WAIT_S
    while not status.state.terminal and time.monotonic() < deadline:
        time.sleep(0.05)
        status = backend.poll(["r1"])["r1"]
    assert status.state is RunState.FAILED and status.exit_code == 127
