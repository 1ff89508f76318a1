"""What a local job can touch: a bubblewrap sandbox around each rank of the local back end.

The local back end runs jobs as the platform's own OS user. Without a sandbox a job could read
the platform's data directory (the database, the audit signing key, other tenants' run folders
and logs), rewrite the platform's own code, or read another process's environment through
`/proc`. With bubblewrap (`bwrap`, Flatpak's sandbox; Debian's `bubblewrap`), each rank runs
in namespaces of its own:

- the whole file system read-only, `/dev` as it is (accelerators stay usable);
- the platform's private paths (its data directory, an agent's work and checkpoint folders,
  a key file kept elsewhere) replaced by an empty tmpfs (a file by `/dev/null`);
- the run's own folder and its checkpoint folder bound back read-write; `HOME` the run's
  folder, `TMPDIR` its `.tmp`, `/dev/shm` private to the rank (in memory); `/tmp` read-only;
- its own PID namespace with a fresh `/proc`: no other process can be seen or signalled.

It is a guard between tenants of one trusted platform, not a container: the network and the
host's users are shared, and resource limits are the scheduler's bookkeeping. Slurm and Ray
sites rely on their engine's own isolation (accounts, cgroups, containers).
"""

from __future__ import annotations

import functools
import logging
import shutil
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from silkroute.backends.base import BackendError

log = logging.getLogger("silkroute.backends")

PROGRAM = "bwrap"
TMP_FOLDER = ".tmp"  # in the run's folder: the rank's TMPDIR


class SandboxMode(StrEnum):
    AUTO = "auto"  # bubblewrap where it works here, otherwise none (with a warning)
    BWRAP = "bwrap"  # bubblewrap or refuse to start
    OFF = "off"


@dataclass(frozen=True)
class Sandbox:
    """bubblewrap's arguments for one rank; `private`: paths no job may see."""

    private: tuple[Path, ...]
    program: str = PROGRAM

    def argv(
        self, workdir: Path, checkpoint_dir: Path, info_fd: int, readable: Sequence[Path] = ()
    ) -> list[str]:
        """The command prefix that runs a rank in `workdir`. bubblewrap writes the sandbox's
        first process id (as seen outside) as JSON to `info_fd`, so the rank can be signalled
        from outside its PID namespace. `readable`: folders shown read-only even inside a
        private path (the agent's lease folder, which the rank's runner reads)."""
        # In this order: each mount covers what is below it, so the private paths are emptied
        # before the run's own folders are bound back (they may lie inside). /tmp stays the
        # host's, read-only (the platform's own Python or code may live there); the rank
        # writes its temporary files to the run's folder (TMPDIR).
        argv = [self.program, "--ro-bind", "/", "/", "--dev-bind", "/dev", "/dev"]
        argv += ["--tmpfs", "/dev/shm", "--unshare-pid", "--as-pid-1", "--proc", "/proc"]
        for path in self.private:
            if path.is_dir():
                argv += ["--tmpfs", str(path)]
            elif path.exists():
                argv += ["--ro-bind", "/dev/null", str(path)]
        for folder in readable:
            argv += ["--ro-bind", str(folder), str(folder)]
        for folder in (workdir, checkpoint_dir):
            argv += ["--bind", str(folder), str(folder)]
        (workdir / TMP_FOLDER).mkdir(exist_ok=True)
        argv += ["--setenv", "HOME", str(workdir), "--setenv", "TMPDIR", str(workdir / TMP_FOLDER)]
        argv += ["--chdir", str(workdir), "--info-fd", str(info_fd), "--"]
        return argv


@functools.cache
def unusable_reason(program: str = PROGRAM) -> str | None:
    """Why bubblewrap cannot sandbox a process here (not installed, namespaces refused), or
    None where it can: tried once per process with the namespaces and mounts a rank uses."""
    if shutil.which(program) is None:
        return f"{program} is not installed (Debian: apt-get install bubblewrap)"
    probe = [program, "--ro-bind", "/", "/", "--dev-bind", "/dev", "/dev", "--unshare-pid"]
    probe += ["--proc", "/proc", "--", "true"]
    try:
        done = subprocess.run(probe, capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"{program} cannot start: {exc}"
    if done.returncode != 0:
        lines = done.stderr.strip().splitlines()
        return f"{program} cannot make a sandbox here: {lines[-1] if lines else done.returncode}"
    return None


def make_sandbox(mode: SandboxMode, private: Sequence[Path]) -> Sandbox | None:
    """The sandbox for `mode`, hiding `private`; None for `off`, or for `auto` where
    bubblewrap does not work here (logged once: jobs then see everything the platform's user
    sees). `bwrap` where it does not work, or a private path holding the platform's own
    Python (no rank could start), is a BackendError naming the reason."""
    if mode is SandboxMode.OFF:
        return None
    reason = unusable_reason()
    if reason is not None:
        if mode is SandboxMode.BWRAP:
            raise BackendError(reason)
        _warn_once(f"local jobs run without a sandbox ({reason}); they can read {_names(private)}")
        return None
    resolved = tuple(sorted({Path(p).resolve() for p in private}))
    python = Path(sys.prefix).resolve()
    for path in resolved:
        if python == path or path in python.parents:
            raise BackendError(
                f"{path} holds the platform's Python ({python}); it cannot be hidden "
                "from jobs that run it: keep the data directory outside the environment"
            )
    return Sandbox(resolved)


@functools.cache
def _warn_once(message: str) -> None:
    log.warning(message)


def _names(paths: Sequence[Path]) -> str:
    return ", ".join(str(p) for p in paths) or "the platform's files"
