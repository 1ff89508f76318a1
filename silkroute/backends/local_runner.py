"""Wrapper around one local worker process: runs it, writes its exit code to a file.

The local back end starts `python -m silkroute.backends.local_runner EXIT_FILE -- CMD...` as
the leader of a new process group. The exit file outlives the control plane: a server that
restarts after a crash still learns how a run it launched ended. SIGTERM reaches the whole
group (the worker handles it); the wrapper waits for the worker and records its status.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path


def _ignore(_signum: int, _frame: object) -> None:
    return None


def main(argv: list[str]) -> int:
    if len(argv) < 3 or argv[1] != "--":
        print("usage: local_runner EXIT_FILE -- COMMAND...", file=sys.stderr)
        return 2
    exit_file, command = Path(argv[0]), argv[2:]
    # The group signal reaches the worker directly; the wrapper only waits and records. A
    # handler (not SIG_IGN, which exec would pass on) so the worker gets the default action.
    signal.signal(signal.SIGTERM, _ignore)
    signal.signal(signal.SIGINT, _ignore)
    worker = subprocess.Popen(command)
    code = worker.wait()
    tmp = exit_file.with_suffix(".tmp")
    tmp.write_text(str(code))
    os.replace(tmp, exit_file)  # atomic: a reader never sees half a number
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
