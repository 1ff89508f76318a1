"""A throwaway local Ray head for tests: `ray start --head --block` as our child process.

4 logical GPUs and 4 CPUs (Ray does not check that they exist), a 200 MB object store,
every port chosen free (the defaults collide with other heads on the machine), its own temp
dir, token authentication off. `--block` keeps the starter alive; terminating it stops every
process of this head and no other (never `ray stop`, which stops every Ray on the machine).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

GPUS = 4


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class RayHead:
    dashboard_port: int = field(default_factory=_free_port)
    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="srray-", dir="/tmp")))
    proc: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        return f"http://127.0.0.1:{self.dashboard_port}"

    @property
    def python(self) -> str:
        return sys.executable

    def start(self, timeout_s: float = 180.0) -> None:
        from ray.job_submission import JobSubmissionClient

        bin_dir = str(Path(sys.executable).parent)
        env = {
            **os.environ,
            "PATH": f"{bin_dir}:{os.environ.get('PATH', '')}",
            "RAY_USAGE_STATS_ENABLED": "0",
            # A token in ~/.ray (left by any local ray.init on the machine) would otherwise
            # turn token authentication on for this head.
            "RAY_AUTH_MODE": "disabled",
        }
        argv = [
            f"{bin_dir}/ray", "start", "--head", "--block", "--disable-usage-stats",
            f"--port={_free_port()}",
            f"--dashboard-port={self.dashboard_port}",
            "--dashboard-host=127.0.0.1",
            f"--ray-client-server-port={_free_port()}",
            f"--dashboard-agent-listen-port={_free_port()}",
            "--min-worker-port=0", "--max-worker-port=0",
            "--num-cpus=4", f"--num-gpus={GPUS}",
            "--object-store-memory=200000000",
            "--include-dashboard=true",
            f"--temp-dir={self.root}",
        ]  # fmt: skip
        log = (self.root / "head.out").open("ab")
        self.proc = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"ray start exited {self.proc.returncode}\n{self.log_tail()}")
            try:
                JobSubmissionClient(self.address).list_jobs()
                return
            except Exception:
                time.sleep(1.0)
        raise RuntimeError(f"ray head not ready within {timeout_s:.0f} s\n{self.log_tail()}")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=30)
            self.proc = None
        shutil.rmtree(self.root, ignore_errors=True)

    def log_tail(self, chars: int = 3000) -> str:
        path = self.root / "head.out"
        return path.read_text(errors="replace")[-chars:] if path.exists() else ""
