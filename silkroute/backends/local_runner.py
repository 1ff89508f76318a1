"""Wrapper around one local worker process: records that it started and how it ended.

The local back end starts `python -m silkroute.backends.local_runner STARTED EXIT -- CMD...`
as the leader of a new process group, holding (inherited from the back end, taken before the
fork) an exclusive lock on the rank's lock file for as long as it lives. The files outlive the
control plane, so a server that restarts after a crash can tell, per rank, "never started"
(no STARTED file, lock free), "running" (lock held) and "ended" (EXIT holds the exit code, or
the group was killed before it could write one). SIGTERM reaches the whole group; the worker
handles it and the wrapper records its status.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
from pathlib import Path

PR_SET_CHILD_SUBREAPER = 36  # <linux/prctl.h>


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


def main(argv: list[str]) -> int:
    if len(argv) < 4 or argv[2] != "--":
        print("usage: local_runner STARTED_FILE EXIT_FILE -- COMMAND...", file=sys.stderr)
        return 2
    started_file, exit_file, command = Path(argv[0]), Path(argv[1]), argv[3:]
    # A handler (not SIG_IGN, which exec would pass on), so the worker gets the default action.
    signal.signal(signal.SIGTERM, _note_stop)
    signal.signal(signal.SIGINT, _note_stop)
    _become_subreaper()
    write_atomically(started_file, str(os.getpid()))
    try:
        worker = subprocess.Popen(command)
    except OSError as exc:
        print(f"cannot start {command[0]!r}: {exc.strerror}", file=sys.stderr)
        write_atomically(exit_file, "127")
        return 0
    code = worker.wait()
    if _stopping:
        _wait_for_descendants()
    write_atomically(exit_file, str(code))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
