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

import os
import signal
import subprocess
import sys
from pathlib import Path


def _ignore(_signum: int, _frame: object) -> None:
    return None


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
    signal.signal(signal.SIGTERM, _ignore)
    signal.signal(signal.SIGINT, _ignore)
    write_atomically(started_file, str(os.getpid()))
    try:
        worker = subprocess.Popen(command)
    except OSError as exc:
        print(f"cannot start {command[0]!r}: {exc.strerror}", file=sys.stderr)
        write_atomically(exit_file, "127")
        return 0
    write_atomically(exit_file, str(worker.wait()))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
