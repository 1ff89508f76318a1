"""The local back end's bubblewrap sandbox, on real processes, and how a rank ends on a stop."""

from __future__ import annotations

import fcntl
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import pytest

from silkroute.backends.base import BackendError, RunState
from silkroute.backends.local import EXIT_NOT_STARTED, LocalBackend
from silkroute.backends.sandbox import Sandbox, SandboxMode, make_sandbox, unusable_reason
from tests.platform.conftest import WAIT_S
from tests.platform.test_local_backend import spec, wait_state

needs_bwrap = pytest.mark.skipif(
    unusable_reason() is not None, reason=f"no sandbox here: {unusable_reason()}"
)
# A Python handler that takes a while, as a checkpoint does, run through the shell (which dies
# of the SIGTERM at once and leaves the handler running).
SLOW_CHECKPOINT = (
    'python3 -c "import signal, sys, time\n'
    "def stop(*_):\n    time.sleep(1); open('checkpointed', 'w').write('ok'); sys.exit(0)\n"
    "signal.signal(signal.SIGTERM, stop)\nprint('ready', flush=True)\ntime.sleep(60)\""
)


@pytest.fixture
def platform_dir(tmp_path: Path) -> Path:
    """A data directory as the platform leaves it: a database, a key, other tenants' runs."""
    data = tmp_path / "data"
    (data / "runs" / "other-tenant").mkdir(parents=True)
    (data / "runs" / "other-tenant" / "result.txt").write_text("tenant b's result")
    (data / "silkroute.db").write_text("every tenant's jobs")
    (tmp_path / "audit.key").write_text("PRIVATE KEY")
    return data


def sandboxed(tmp_path: Path, platform_dir: Path) -> LocalBackend:
    sandbox = make_sandbox(SandboxMode.BWRAP, [platform_dir, tmp_path / "audit.key"])
    return LocalBackend(platform_dir / "backend", sandbox=sandbox)


def wait_ready(path: Path) -> None:
    deadline = time.monotonic() + WAIT_S
    while (
        "ready" not in (path.read_text() if path.exists() else "") and time.monotonic() < deadline
    ):
        time.sleep(0.05)


@needs_bwrap
def test_a_sandboxed_job_sees_its_own_folders_and_nothing_private(
    tmp_path: Path, platform_dir: Path
) -> None:
    backend = sandboxed(tmp_path, platform_dir)
    command = (
        f"cat {platform_dir}/silkroute.db {tmp_path}/audit.key; ls {platform_dir}/runs; "
        'echo mine > own.txt; echo ckpt > "$SILKROUTE_CHECKPOINT_DIR/state"; '
        f'touch {Path(sys.prefix)}/planted; echo tmp > "$TMPDIR/t"; cat "$TMPDIR/t"; '
        'echo "processes $(ls /proc | grep -c "^[0-9]") home $HOME"'
    )
    launch = spec(platform_dir, "r1", command, workers=2)
    backend.submit(launch)
    assert wait_state(backend, "r1") is RunState.SUCCEEDED
    for rank in (0, 1):
        out = (launch.workdir / f"stdout-{rank}.log").read_text()
        err = (launch.workdir / f"stderr-{rank}.log").read_text()
        assert "every tenant" not in out and "PRIVATE KEY" not in out
        assert "other-tenant" not in out and "r1" in out.split()  # only its own run folder
        assert "Read-only file system" in err  # the platform's own code cannot be rewritten
        processes = int(out.split("processes ")[1].split()[0])
        assert processes <= 6  # the runner, the shell and its pipeline: no other process
        assert f"home {launch.workdir}" in out and "tmp" in out.split()  # TMPDIR writable
    assert (launch.workdir / "own.txt").read_text() == "mine\n"
    assert (launch.checkpoint_dir / "state").read_text() == "ckpt\n"
    assert not (Path(sys.prefix) / "planted").exists()
    assert (platform_dir / "runs" / "other-tenant" / "result.txt").exists()  # untouched


@needs_bwrap
def test_a_restarted_instance_stops_a_sandboxed_rank_after_its_checkpoint(
    tmp_path: Path, platform_dir: Path
) -> None:
    launch = spec(platform_dir, "r1", SLOW_CHECKPOINT)
    sandboxed(tmp_path, platform_dir).submit(launch)
    wait_ready(launch.workdir / "stdout-0.log")
    restarted = sandboxed(tmp_path, platform_dir)  # knows the rank only from its files
    restarted.cancel("r1", grace_s=10)
    assert restarted.poll(["r1"])["r1"].state is RunState.CANCELLED
    assert (launch.workdir / "checkpointed").read_text() == "ok"


@needs_bwrap
def test_what_a_sandboxed_job_leaves_running_ends_with_it(
    tmp_path: Path, platform_dir: Path
) -> None:
    # The leftover holds a lock on a file for as long as it lives.
    launch = spec(platform_dir, "r1", "flock left.lock sleep 30 & sleep 0.3; echo done")
    backend = sandboxed(tmp_path, platform_dir)
    backend.submit(launch)
    assert wait_state(backend, "r1") is RunState.SUCCEEDED
    deadline = time.monotonic() + WAIT_S
    while _locked(launch.workdir / "left.lock") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _locked(launch.workdir / "left.lock")


def _locked(path: Path) -> bool:
    fd = os.open(path, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def test_a_stop_waits_for_the_command_a_shell_started_to_finish_its_checkpoint(
    tmp_path: Path,
) -> None:
    launch = spec(tmp_path, "r1", SLOW_CHECKPOINT)
    LocalBackend(tmp_path / "state").submit(launch)
    wait_ready(launch.workdir / "stdout-0.log")
    restarted = LocalBackend(tmp_path / "state")
    restarted.cancel("r1", grace_s=10)
    # The shell died of the SIGTERM at once; the rank ended only once the checkpoint was written.
    assert (launch.workdir / "checkpointed").read_text() == "ok"
    assert restarted.poll(["r1"])["r1"].state is RunState.CANCELLED


def test_a_sandbox_that_cannot_be_set_up_fails_the_run_instead_of_waiting(
    tmp_path: Path,
) -> None:
    class Broken(Sandbox):
        def argv(
            self, workdir: Path, checkpoint_dir: Path, info_fd: int, readable: Sequence[Path] = ()
        ) -> list[str]:
            return ["/bin/sh", "-c", "echo 'bwrap: cannot make a sandbox' >&2; exit 1", "--"]

    backend = LocalBackend(tmp_path / "state", sandbox=Broken(()))
    launch = spec(tmp_path, "r1", "echo never")
    backend.submit(launch)
    status = None
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        status = backend.poll(["r1"])["r1"]
        if status.state.terminal:
            break
        time.sleep(0.05)
    assert status is not None and status.state is RunState.FAILED
    assert status.exit_code == EXIT_NOT_STARTED and "could not be started" in status.message
    assert "cannot make a sandbox" in (launch.workdir / "stderr-0.log").read_text()
    assert not (launch.workdir / "stdout-0.log").read_text()


@pytest.mark.parametrize(
    ("name", "mode", "private", "error"),
    [
        ("off is no sandbox", SandboxMode.OFF, [], None),
        (
            "hiding the platform's own Python is refused",
            SandboxMode.AUTO,
            [Path(sys.prefix).parent],
            "holds the platform's Python",
        ),
    ],
)
def test_making_a_sandbox(
    name: str, mode: SandboxMode, private: list[Path], error: str | None
) -> None:
    if error is None:
        assert make_sandbox(mode, private) is None, name
        return
    if unusable_reason() is not None:
        pytest.skip(f"no sandbox here: {unusable_reason()}")
    with pytest.raises(BackendError, match=error):
        make_sandbox(mode, private)


@needs_bwrap
def test_through_the_platform_a_tenants_job_cannot_read_the_database_or_another_tenants_run(
    tmp_path: Path,
) -> None:
    from fastapi.testclient import TestClient

    from silkroute.api.app import create_app
    from silkroute.control.boot import init_admin, open_platform
    from tests.platform.conftest import Api

    data = tmp_path / "data"
    platform = open_platform(data, None, tick_s=0.05, grace_s=3.0, sandbox=SandboxMode.BWRAP)
    admin = init_admin(platform)
    assert admin is not None
    with TestClient(create_app(platform), raise_server_exceptions=False) as client:
        api = Api(client, platform, admin, data)
        api.add_sites()
        bob, alice = api.tenant("bob"), api.tenant("alice")
        secret = api.submit(bob, command=["sh", "-c", "echo bobs-result > result.txt"]).json()
        api.wait_for(bob, secret["id"], ("succeeded",))
        assert list(data.rglob("result.txt"))  # it is there, outside the sandbox
        snoop = (
            f"ls {data}/runs; cat {data}/silkroute.db {data}/audit.key; "
            f"cat {data}/runs/*/result.txt; echo done"
        )
        job = api.submit(alice, command=["sh", "-c", snoop]).json()
        api.wait_for(alice, job["id"], ("succeeded", "failed"))
        api.wait_for_output(alice, job["id"], "done")
        logs = client.get(f"/v1/jobs/{job['id']}/logs", headers=api.as_(alice)).json()["text"]
        assert "bobs-result" not in logs and "SQLite" not in logs and "PRIVATE" not in logs
        listed = logs.split()[: logs.split().index("done")]
        assert listed and all(name.startswith(f"job{job['id']}-") for name in listed), listed
    platform.store.close()


def test_a_sandbox_that_cannot_be_made_fails_the_start_before_anything_is_written(
    tmp_path: Path,
) -> None:
    # Hiding the folder that holds the platform's own Python (here as the audit key's place)
    # cannot work; where bubblewrap is missing, that is the reason instead. Either way the
    # platform refuses to open, before it makes its database.
    from silkroute.control.boot import open_platform

    data = tmp_path / "data"
    reason = "holds the platform's Python" if unusable_reason() is None else "bwrap"
    with pytest.raises(BackendError, match=reason):
        open_platform(data, sandbox=SandboxMode.BWRAP, audit_key=Path(sys.prefix).parent)
    assert not (data / "silkroute.db").exists()


def test_an_agent_whose_sandbox_cannot_be_made_says_so_naming_the_option(tmp_path: Path) -> None:
    import subprocess

    done = subprocess.run(
        [
            sys.executable, "-m", "silkroute.cli", "agent", "--site", "hanoi",
            "--backend", "local", "--token", "t", "--server", "http://127.0.0.1:9",
            "--work-dir", str(tmp_path / "agent"), "--sandbox", "bwrap",
            "--checkpoint-dir", str(Path(sys.prefix).parent),
        ],
        capture_output=True, text=True, timeout=60, cwd=tmp_path,
        env={**os.environ, "NO_COLOR": "1"},
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith("error: --sandbox bwrap: "), done.stderr
    assert done.stderr.count("\n") == 1, done.stderr
