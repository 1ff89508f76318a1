"""Wrapper around one local worker process: records that it started and how it ended.

The local back end starts `python -m silkroute.backends.local_runner STARTED EXIT -- CMD...`
as the leader of a new process group, holding (inherited from the back end, taken before the
fork) an exclusive lock on the rank's lock file for as long as it lives. The files outlive the
control plane, so a server that restarts after a crash can tell, per rank, "never started"
(no STARTED file, lock free), "running" (lock held) and "ended" (EXIT holds the exit code, or
the group was killed before it could write one). SIGTERM reaches the whole group; the worker
handles it and the wrapper records its status.

A stop may come at any moment of a rank's start, and must end it: the back end writes the
run's stop file before it signals, and the runner installs its handler before it writes
STARTED (the file the back end finds its pid in), so either the back end's SIGTERM finds the
runner or the runner finds the stop file and does not start the command; a SIGTERM that came
while the command was being started (the runner only noted it) is passed on to it.

With `--lease DIR` the runner also enforces its agent's lease (`backends/lease.py`): once the
lease has run out and the agent is gone, it stops its own rank (engine-side fencing).
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from silkroute.backends.lease import (
    FenceAction,
    agent_silent_s,
    fence_action,
    next_look_s,
    read_lease,
)

PR_SET_CHILD_SUBREAPER = 36  # <linux/prctl.h>
EXIT_STOPPED_BEFORE_START = 128 + signal.SIGTERM  # as a shell stopped by SIGTERM
USAGE = "usage: local_runner STARTED EXIT [--stop-file F] [--lease DIR --fenced-file F] -- CMD..."


_stopping = False  # a SIGTERM or SIGINT came: the rank is being stopped


def _note_stop(_signum: int, _frame: object) -> None:
    global _stopping
    _stopping = True


def _become_subreaper() -> None:
    """Processes the worker leaves behind become this runner's children (Linux), so a stop
    can wait for them; in a sandbox the runner is the PID namespace's init, which is that
    already."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


def _wait_for_descendants() -> None:
    """Reap every child until none is left: a shell stopped by SIGTERM ends at once while the
    command it ran still writes its checkpoint; the rank runs until that ends too (the back
    end's SIGKILL after the grace ends what does not)."""
    while True:
        try:
            os.waitpid(-1, 0)
        except ChildProcessError:
            return
        except InterruptedError:
            continue


def write_atomically(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)  # a reader never sees half a file


@dataclass(frozen=True, slots=True)
class RunnerArgs:
    started_file: Path
    exit_file: Path
    command: list[str]
    stop_file: Path | None = None  # exists: the run is being stopped; do not start
    lease_dir: Path | None = None  # the agent's lease folder (`backends/lease.py`)
    fenced_file: Path | None = None  # written when this runner fences its rank


def parse(argv: list[str]) -> RunnerArgs | None:
    if "--" not in argv:
        return None
    split = argv.index("--")
    head, command = argv[:split], argv[split + 1 :]
    if len(head) < 2 or not command or len(head) % 2:
        return None
    options = dict(zip(head[2::2], head[3::2], strict=True))
    if not set(options) <= {"--stop-file", "--lease", "--fenced-file"}:
        return None
    if ("--lease" in options) != ("--fenced-file" in options):
        return None

    def path(name: str) -> Path | None:
        return Path(options[name]) if name in options else None

    return RunnerArgs(
        Path(head[0]),
        Path(head[1]),
        command,
        stop_file=path("--stop-file"),
        lease_dir=path("--lease"),
        fenced_file=path("--fenced-file"),
    )


def _watch_lease(lease_dir: Path, fenced_file: Path, done: threading.Event) -> None:
    """Engine-side fencing: stop this rank once its agent's lease has run out with the agent
    gone (`lease.fence_action`), and kill what is left at the lease's end plus the grace.
    Signals go to the runner's own process group (the rank: the runner and the command)."""
    # Stops are the main thread's to take: there they interrupt its wait for the command.
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT})
    fenced = False
    while not done.is_set():
        lease = read_lease(lease_dir)
        now = time.time()
        action = fence_action(lease, agent_silent_s(lease_dir, now), now, _stopping or fenced)
        if action is FenceAction.STOP and lease is not None:
            fenced = True
            write_atomically(fenced_file, json.dumps({"at": now, "lease_ended_at": lease.ends_at}))
            print(
                f"silkroute: stopping this rank: its agent is gone and its lease ran out "
                f"{now - lease.ends_at:.1f} s ago (the control plane restarts the job elsewhere)",
                file=sys.stderr,
                flush=True,
            )
            with contextlib.suppress(OSError):
                os.killpg(0, signal.SIGTERM)
        elif action is FenceAction.KILL:
            with contextlib.suppress(OSError):
                os.killpg(0, signal.SIGKILL)  # the runner too, outside a sandbox
        done.wait(next_look_s(lease, time.time()))


def main(argv: list[str]) -> int:
    args = parse(argv)
    if args is None:
        print(USAGE, file=sys.stderr)
        return 2
    # A handler (not SIG_IGN, which exec would pass on), so the worker gets the default action.
    # Installed before STARTED is written: from then on the back end may signal this group.
    signal.signal(signal.SIGTERM, _note_stop)
    signal.signal(signal.SIGINT, _note_stop)
    _become_subreaper()
    write_atomically(args.started_file, str(os.getpid()))
    if _stopping or (args.stop_file is not None and args.stop_file.exists()):
        # Stopped before the command started (a cancel or a gang's stop right after launch).
        write_atomically(args.exit_file, str(EXIT_STOPPED_BEFORE_START))
        return 0
    try:
        worker = subprocess.Popen(args.command)
    except OSError as exc:
        print(f"cannot start {args.command[0]!r}: {exc.strerror}", file=sys.stderr)
        write_atomically(args.exit_file, "127")
        return 0
    if _stopping:
        # It came while the command was being started: the group's SIGTERM found no worker
        # yet (or one still in Python's handler between fork and exec, which lost it).
        with contextlib.suppress(ProcessLookupError):
            worker.send_signal(signal.SIGTERM)
    done = threading.Event()
    if args.lease_dir is not None and args.fenced_file is not None:
        watch = threading.Thread(
            target=_watch_lease, args=(args.lease_dir, args.fenced_file, done), daemon=True
        )
        watch.start()
    code = worker.wait()
    if _stopping:
        _wait_for_descendants()
    done.set()
    write_atomically(args.exit_file, str(code))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
