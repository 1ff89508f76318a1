"""A throwaway single-host Slurm cluster for tests: munged, slurmctld and slurmd in one temp dir.

One node, `localhost`, with 8 CPUs and 4 GPUs. Slurm's gpu plug-in drops GPUs without device
files, so each GPU is a symlink to /dev/null in the temp dir (a character device, never
opened by a job). No slurmdbd: the job completion log (`jobcomp/filetxt`) and the
controller's memory are the records. Every daemon runs in the foreground as our child, so
teardown stops exactly the processes it started.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

BINARIES = ("munged", "slurmctld", "slurmd", "sbatch", "scontrol", "scancel")
GPUS = 4
CPUS = 8


def missing_binaries() -> list[str]:
    return [b for b in BINARIES if shutil.which(b) is None]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class SlurmCluster:
    root: Path
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def conf(self) -> Path:
        return self.root / "slurm.conf"

    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, "SLURM_CONF": str(self.conf)}

    def start(self, timeout_s: float = 60.0) -> None:
        self._write_config()
        self._spawn("munged", "-F", "-f", *self._munge_args())
        self._wait(lambda: (self.root / "munge.socket").exists(), timeout_s, "munged")
        self._spawn("slurmctld", "-D", "-i")
        self._wait(self._controller_up, timeout_s, "slurmctld")
        self._spawn("slurmd", "-D", "-N", "localhost")
        self._wait(self._node_idle, timeout_s, "slurmd (node idle)")

    def stop(self) -> None:
        if self.procs:
            subprocess.run(
                ["scancel", "--full", "--signal=KILL", "--user=root"],
                env=self.env,
                capture_output=True,
                timeout=30,
                check=False,
            )
        for proc in reversed(self.procs):
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=15)
        self.procs.clear()

    def scontrol(self, *args: str) -> str:
        done = subprocess.run(
            ["scontrol", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        return done.stdout + done.stderr

    def log_tail(self, chars: int = 3000) -> str:
        parts = []
        for name in ("slurmctld.log", "slurmd.log", "munged.log"):
            path = self.root / name
            if path.exists():
                parts.append(f"--- {name}\n{path.read_text(errors='replace')[-chars:]}")
        return "\n".join(parts)

    def _munge_args(self) -> list[str]:
        r = self.root
        return [
            f"--socket={r}/munge.socket",
            f"--key-file={r}/munge.key",
            f"--log-file={r}/munged.log",
            f"--pid-file={r}/munged.pid",
            f"--seed-file={r}/munged.seed",
        ]

    def _write_config(self) -> None:
        r = self.root
        for name in ("state", "spool", "dev"):
            (r / name).mkdir(parents=True, exist_ok=True)
        key = r / "munge.key"
        key.write_bytes(os.urandom(1024))
        key.chmod(0o400)
        for i in range(GPUS):
            gpu = r / "dev" / f"gpu{i}"
            if not gpu.exists():
                gpu.symlink_to("/dev/null")
        (r / "gres.conf").write_text(
            f"AutoDetect=off\nNodeName=localhost Name=gpu File={r}/dev/gpu[0-{GPUS - 1}]\n"
        )
        self.conf.write_text(f"""\
ClusterName=srtest{os.getpid()}
SlurmctldHost=localhost(127.0.0.1)
SlurmctldPort={_free_port()}
SlurmdPort={_free_port()}
AuthType=auth/munge
AuthInfo=socket={r}/munge.socket
CredType=cred/munge
SlurmUser=root
SlurmdUser=root
StateSaveLocation={r}/state
SlurmdSpoolDir={r}/spool
SlurmctldPidFile={r}/slurmctld.pid
SlurmdPidFile={r}/slurmd.pid
SlurmctldLogFile={r}/slurmctld.log
SlurmdLogFile={r}/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
GresTypes=gpu
SchedulerType=sched/backfill
SchedulerParameters=sched_interval=2
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc={r}/jobcomp.txt
JobAcctGatherType=jobacct_gather/none
MpiDefault=none
ReturnToService=2
SlurmdParameters=config_overrides
MinJobAge=3600
KillWait=5
NodeName=localhost NodeAddr=127.0.0.1 CPUs={CPUS} RealMemory=16000 Gres=gpu:{GPUS} State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
""")

    def _spawn(self, *argv: str) -> None:
        log = (self.root / f"{argv[0]}.out").open("ab")
        self.procs.append(
            subprocess.Popen(
                argv, env=self.env, stdout=log, stderr=subprocess.STDOUT, cwd=self.root
            )
        )

    def _controller_up(self) -> bool:
        return "UP" in self.scontrol("ping")

    def _node_idle(self) -> bool:
        state = self.scontrol("-o", "show", "node", "localhost")
        if "DRAIN" in state or "INVALID" in state:
            self.scontrol("update", "nodename=localhost", "state=resume")
        return "State=IDLE" in state and "DRAIN" not in state

    def _wait(self, ready: Callable[[], bool], timeout_s: float, what: str) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if any(p.poll() is not None for p in self.procs):
                raise RuntimeError(f"{what}: a daemon exited\n{self.log_tail()}")
            if ready():
                return
            time.sleep(0.3)
        raise RuntimeError(f"{what}: not ready within {timeout_s:.0f} s\n{self.log_tail()}")
