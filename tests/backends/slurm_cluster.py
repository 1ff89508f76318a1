"""A throwaway Slurm cluster on one host for tests: munged, slurmctld and two slurmd in a temp dir.

Two nodes, `n1` and `n2` (one slurmd each, on their own ports), with 4 CPUs and 2 GPUs each,
so a gang can span nodes. Slurm's gpu plug-in drops GPUs without device files, so each GPU
is a symlink to /dev/null in the temp dir (a character device, never opened by a job). No
slurmdbd: the job completion log (`jobcomp/filetxt`) and the controller's memory are the
records. Every daemon runs in the foreground as our child, so teardown stops exactly the
processes it started.
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
NODES = ("n1", "n2")
GPUS_PER_NODE = 2
CPUS_PER_NODE = 4


# Daemons live in sbin, which a non-login PATH may lack.
SEARCH_PATH = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"])


def missing_binaries() -> list[str]:
    return [b for b in BINARIES if shutil.which(b, path=SEARCH_PATH) is None]


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
        return {**os.environ, "PATH": SEARCH_PATH, "SLURM_CONF": str(self.conf)}

    def start(self, timeout_s: float = 60.0) -> None:
        self._write_config()
        self._spawn("munged", "-F", "-f", *self._munge_args())
        self._wait(lambda: (self.root / "munge.socket").exists(), timeout_s, "munged")
        self._spawn("slurmctld", "-D", "-i")
        self._wait(self._controller_up, timeout_s, "slurmctld")
        for node in NODES:
            self._spawn("slurmd", "-D", "-N", node)
        self._wait(self._nodes_idle, timeout_s, "slurmd (nodes idle)")

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
        for name in ("slurmctld.log", *(f"slurmd-{n}.log" for n in NODES), "munged.log"):
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
        for name in ("state", "dev", *(f"spool-{n}" for n in NODES)):
            (r / name).mkdir(parents=True, exist_ok=True)
        key = r / "munge.key"
        key.write_bytes(os.urandom(1024))
        key.chmod(0o400)
        gres = ["AutoDetect=off"]
        nodes = []
        for i, node in enumerate(NODES):
            first = i * GPUS_PER_NODE
            for d in range(first, first + GPUS_PER_NODE):
                gpu = r / "dev" / f"gpu{d}"
                if not gpu.exists():
                    gpu.symlink_to("/dev/null")
            gres.append(
                f"NodeName={node} Name=gpu File={r}/dev/gpu[{first}-{first + GPUS_PER_NODE - 1}]"
            )
            nodes.append(
                f"NodeName={node} NodeHostname=localhost NodeAddr=127.0.0.1 Port={_free_port()} "
                f"CPUs={CPUS_PER_NODE} RealMemory=8000 Gres=gpu:{GPUS_PER_NODE} State=UNKNOWN"
            )
        (r / "gres.conf").write_text("\n".join(gres) + "\n")
        node_lines = "\n".join(nodes)
        self.conf.write_text(f"""\
ClusterName=srtest{os.getpid()}
SlurmctldHost=localhost(127.0.0.1)
SlurmctldPort={_free_port()}
AuthType=auth/munge
AuthInfo=socket={r}/munge.socket
CredType=cred/munge
SlurmUser=root
SlurmdUser=root
StateSaveLocation={r}/state
SlurmdSpoolDir={r}/spool-%n
SlurmctldPidFile={r}/slurmctld.pid
SlurmdPidFile={r}/slurmd-%n.pid
SlurmctldLogFile={r}/slurmctld.log
SlurmdLogFile={r}/slurmd-%n.log
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
{node_lines}
PartitionName=debug Nodes={",".join(NODES)} Default=YES MaxTime=INFINITE State=UP
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

    def _nodes_idle(self) -> bool:
        idle = 0
        for node in NODES:
            state = self.scontrol("-o", "show", "node", node)
            if "DRAIN" in state or "INVALID" in state:
                self.scontrol("update", f"nodename={node}", "state=resume")
            idle += "State=IDLE" in state and "DRAIN" not in state
        return idle == len(NODES)

    def _wait(self, ready: Callable[[], bool], timeout_s: float, what: str) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if any(p.poll() is not None for p in self.procs):
                raise RuntimeError(f"{what}: a daemon exited\n{self.log_tail()}")
            if ready():
                return
            time.sleep(0.3)
        raise RuntimeError(f"{what}: not ready within {timeout_s:.0f} s\n{self.log_tail()}")
