"""A throwaway Slurm cluster on one host for tests: munged, slurmctld and two slurmd in a temp dir,
with accounting (a MariaDB server and slurmdbd of its own) where their software is installed.

Two nodes, `n1` and `n2` (one slurmd each, on their own ports), with 4 CPUs and 2 GPUs each,
so a gang can span nodes. Slurm's gpu plug-in drops GPUs without device files, so each GPU
is a symlink to /dev/null in the temp dir (a character device, never opened by a job).

Accounting: a MariaDB server on its own data directory, socket and port (no system-wide
configuration read, `--no-defaults`), slurmdbd on a free port, the cluster registered with
`sacctmgr`, `sacct` answering; no association is enforced. Without `mariadbd` or `slurmdbd`
the cluster runs without accounting (`accounting` is then False), its records the
controller's memory and the job completion log (`jobcomp/filetxt`, kept either way).
Every daemon runs in the foreground as our child, so teardown stops exactly the processes it
started.
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
ACCOUNTING_BINARIES = ("mariadb-install-db", "mariadbd", "mariadb", "slurmdbd", "sacctmgr", "sacct")
NODES = ("n1", "n2")
GPUS_PER_NODE = 2
CPUS_PER_NODE = 4


# Daemons live in sbin, which a non-login PATH may lack.
SEARCH_PATH = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"])


def missing_binaries() -> list[str]:
    return [b for b in BINARIES if shutil.which(b, path=SEARCH_PATH) is None]


def missing_accounting_binaries() -> list[str]:
    return [b for b in ACCOUNTING_BINARIES if shutil.which(b, path=SEARCH_PATH) is None]


# A small, unsynced InnoDB: a throwaway database starts in seconds and holds a few jobs.
_MARIADB_OPTIONS = (
    "--skip-name-resolve",
    "--innodb-buffer-pool-size=32M",
    "--innodb-log-file-size=4M",
    "--innodb-flush-method=nosync",
    "--innodb-doublewrite=0",
    "--innodb-lock-wait-timeout=900",
)


class DaemonExited(RuntimeError):
    """A daemon ended while the cluster started: most often a port it was given was taken
    meanwhile (free when chosen is not reserved), so a start on other ports may succeed."""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class SlurmCluster:
    root: Path
    accounting: bool | None = None  # None: with accounting where its software is installed
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)
    started_in_s: float = 0.0
    _dbd_port: int = field(default_factory=_free_port)
    _db_port: int = field(default_factory=_free_port)
    _db_password: str = field(default_factory=lambda: os.urandom(12).hex())

    @property
    def name(self) -> str:
        return f"srtest{os.getpid()}"

    @property
    def conf(self) -> Path:
        return self.root / "slurm.conf"

    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, "PATH": SEARCH_PATH, "SLURM_CONF": str(self.conf)}

    def start(self, timeout_s: float = 60.0) -> None:
        began = time.monotonic()
        if self.accounting is None:
            self.accounting = not missing_accounting_binaries()
        self._write_config()
        self._spawn("munged", "-F", "-f", *self._munge_args())
        self._wait(lambda: (self.root / "munge.socket").exists(), timeout_s, "munged")
        if self.accounting:
            self._start_accounting(timeout_s)
        self._spawn("slurmctld", "-D", "-i")
        self._wait(self._controller_up, timeout_s, "slurmctld")
        for node in NODES:
            self._spawn("slurmd", "-D", "-N", node)
        self._wait(self._nodes_idle, timeout_s, "slurmd (nodes idle)")
        self.started_in_s = time.monotonic() - began

    def _start_accounting(self, timeout_s: float) -> None:
        """MariaDB, its database and user for slurmdbd, slurmdbd, the cluster registered."""
        data = self.root / "mariadb"
        self._command(
            "mariadb-install-db",
            "--no-defaults",
            "--user=root",
            f"--datadir={data}",
            "--auth-root-authentication-method=normal",
            "--skip-test-db",
            *_MARIADB_OPTIONS,
        )
        self._spawn(
            "mariadbd",
            "--no-defaults",
            "--user=root",
            f"--datadir={data}",
            f"--socket={self._db_socket}",
            f"--port={self._db_port}",
            "--bind-address=127.0.0.1",
            "--skip-networking=0",
            f"--pid-file={self.root}/mariadb.pid",
            f"--log-error={self.root}/mariadb.log",
            *_MARIADB_OPTIONS,
        )
        self._wait(lambda: self._sql("SELECT 1") is not None, timeout_s, "mariadbd")
        self._sql(
            "CREATE DATABASE IF NOT EXISTS slurm_acct_db; "
            f"CREATE OR REPLACE USER 'slurm'@'127.0.0.1' IDENTIFIED BY '{self._db_password}'; "
            "GRANT ALL ON slurm_acct_db.* TO 'slurm'@'127.0.0.1';",
            check=True,
        )
        dbd_conf = self.root / "slurmdbd.conf"  # next to slurm.conf: slurmdbd looks there
        dbd_conf.touch(mode=0o600)
        dbd_conf.write_text(f"""\
AuthType=auth/munge
AuthInfo=socket={self.root}/munge.socket
DbdHost=localhost
DbdAddr=127.0.0.1
DbdPort={self._dbd_port}
SlurmUser=root
PidFile={self.root}/slurmdbd.pid
LogFile={self.root}/slurmdbd.log
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort={self._db_port}
StorageUser=slurm
StoragePass={self._db_password}
StorageLoc=slurm_acct_db
""")
        self._spawn("slurmdbd", "-D")
        self._wait(lambda: self._sacctmgr("show", "cluster"), timeout_s, "slurmdbd")
        if not self._sacctmgr("-i", "add", "cluster", self.name):
            raise RuntimeError(f"sacctmgr add cluster {self.name} failed\n{self.log_tail()}")

    @property
    def _db_socket(self) -> Path:
        return self.root / "mariadb.sock"

    def _sql(self, statements: str, *, check: bool = False) -> str | None:
        argv = ["mariadb", "--no-defaults", f"--socket={self._db_socket}", "-uroot"]
        done = subprocess.run(
            [*argv, "-e", statements],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        if done.returncode != 0 and check:
            raise RuntimeError(f"mariadb: {statements}: {done.stderr.strip()}")
        return done.stdout if done.returncode == 0 else None

    def _sacctmgr(self, *args: str) -> bool:
        done = subprocess.run(
            ["sacctmgr", "--noheader", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        return done.returncode == 0

    def _command(self, *argv: str) -> None:
        done = subprocess.run(
            argv, env=self.env, capture_output=True, text=True, timeout=120, check=False
        )
        if done.returncode != 0:
            raise RuntimeError(f"{argv[0]} failed ({done.returncode}): {done.stdout}{done.stderr}")

    def forget_jobs(self, timeout_s: float = 60.0) -> None:
        """Restart slurmctld with its state cleared, as after losing its state save: every
        job is gone from the controller; the completion log and slurmdbd keep theirs."""
        [controller] = [p for p in self.procs if p.args[0] == "slurmctld"]  # type: ignore[index]
        controller.terminate()
        controller.wait(timeout=15)
        self.procs.remove(controller)
        self._spawn("slurmctld", "-D", "-c")
        self._wait(self._controller_up, timeout_s, "slurmctld (restarted)")
        self._wait(self._nodes_idle, timeout_s, "slurmd (nodes idle after the restart)")

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
        logs = ("slurmctld.log", *(f"slurmd-{n}.log" for n in NODES), "munged.log")
        for name in (*logs, "slurmdbd.log", "mariadb.log"):
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
        if self.accounting:  # the dbd connection's munge socket goes in AccountingStoragePass
            accounting = f"""\
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost
AccountingStoragePort={self._dbd_port}
AccountingStoragePass={r}/munge.socket
AccountingStorageTRES=gres/gpu"""
        else:
            accounting = "AccountingStorageType=accounting_storage/none"
        self.conf.write_text(f"""\
ClusterName={self.name}
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
{accounting}
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
                raise DaemonExited(f"{what}: a daemon exited\n{self.log_tail()}")
            if ready():
                return
            time.sleep(0.3)
        raise RuntimeError(f"{what}: not ready within {timeout_s:.0f} s\n{self.log_tail()}")
