"""A throwaway two-node Ray cluster on one host for tests: `ray start --block` as our children.

A head (`n1`) and a worker node (`n2`), each with 2 logical GPUs and 2 CPUs (Ray does not
check that they exist) and the label `silkroute.io/node=<name>`, a 200 MB object store each,
every port chosen free (the defaults collide with other heads on the machine), its own temp
dir, token authentication off. `--block` keeps each starter alive; terminating it stops every
process of that node and no other (never `ray stop`, which stops every Ray on the machine).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

NODES = ("n1", "n2")
GPUS_PER_NODE = 2
NODE_LABEL = "silkroute.io/node"


class NodeExited(RuntimeError):
    """A node's `ray start` ended while the cluster started: most often a port it was given
    was taken meanwhile (free when chosen is not reserved), so other ports may succeed."""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class RayHead:
    dashboard_port: int = field(default_factory=_free_port)
    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="srray-", dir="/tmp")))
    gcs_port: int = field(default_factory=_free_port)
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def address(self) -> str:
        return f"http://127.0.0.1:{self.dashboard_port}"

    @property
    def python(self) -> str:
        return sys.executable

    def start(self, timeout_s: float = 180.0) -> None:
        from ray.job_submission import JobSubmissionClient

        head = [
            "--head",
            f"--port={self.gcs_port}",
            f"--dashboard-port={self.dashboard_port}",
            "--dashboard-host=127.0.0.1",
            f"--ray-client-server-port={_free_port()}",
            "--include-dashboard=true",
            f"--temp-dir={self.root}",
        ]
        self._start_node(NODES[0], head)
        deadline = time.monotonic() + timeout_s
        while not self._answers(JobSubmissionClient):
            self._check_alive(deadline)
            time.sleep(1.0)
        self._start_node(NODES[1], [f"--address=127.0.0.1:{self.gcs_port}"])
        while self._alive_nodes() < len(NODES):
            self._check_alive(deadline)
            time.sleep(1.0)

    def stop(self) -> None:
        for proc in reversed(self.procs):
            proc.terminate()
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=30)
        self.procs.clear()
        shutil.rmtree(self.root, ignore_errors=True)

    def _start_node(self, name: str, role: list[str]) -> None:
        bin_dir = str(Path(sys.executable).parent)
        env = {
            **os.environ,
            "PATH": f"{bin_dir}:{os.environ.get('PATH', '')}",
            "RAY_USAGE_STATS_ENABLED": "0",
            # A token in ~/.ray (left by any local ray.init on the machine) would otherwise
            # turn token authentication on for this cluster.
            "RAY_AUTH_MODE": "disabled",
        }
        argv = [
            f"{bin_dir}/ray", "start", "--block", "--disable-usage-stats", *role,
            f"--dashboard-agent-listen-port={_free_port()}",
            "--min-worker-port=0", "--max-worker-port=0",
            "--num-cpus=2", f"--num-gpus={GPUS_PER_NODE}",
            f"--labels={NODE_LABEL}={name}",
            "--object-store-memory=200000000",
        ]  # fmt: skip
        log = (self.root / f"{name}.out").open("ab")
        self.procs.append(subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT))

    def _answers(self, client_class: Any) -> bool:
        try:
            client_class(self.address).list_jobs()
            return True
        except Exception:
            return False

    def _alive_nodes(self) -> int:
        import urllib.request

        url = f"{self.address}/nodes?view=summary"
        try:
            with urllib.request.urlopen(url, timeout=10) as answer:
                summary = json.load(answer)["data"]["summary"]
        except Exception:
            return 0
        return sum(1 for node in summary if node.get("raylet", {}).get("state") == "ALIVE")

    def _check_alive(self, deadline: float) -> None:
        for proc in self.procs:
            if proc.poll() is not None:
                raise NodeExited(f"ray start exited {proc.returncode}\n{self.log_tail()}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"ray cluster not ready in time\n{self.log_tail()}")

    def log_tail(self, chars: int = 3000) -> str:
        parts = []
        for name in NODES:
            path = self.root / f"{name}.out"
            if path.exists():
                parts.append(f"--- {name}\n{path.read_text(errors='replace')[-chars:]}")
        return "\n".join(parts)
