"""A real control plane (`silkroute server`) and real agents (`silkroute agent`) as child
processes, for the end-to-end suite. Every wait polls with a deadline; no fixed sleeps."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from silkroute.control.boot import init_admin, open_platform
from silkroute.store.throwaway_pg import free_port

CLI = str(Path(sys.executable).parent / "silkroute")
HEARTBEAT_TIMEOUT_S = 3.0  # short, so a killed agent is noticed in seconds
GRACE_S = 3.0


def wait_until(what: str, check: Callable[[], Any], timeout_s: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout_s} s")
        time.sleep(0.1)


@dataclass
class Agent:
    site: str
    args: list[str]
    env: dict[str, str]
    log: Path
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        handle = open(self.log, "ab")  # noqa: SIM115 (the child holds it)
        self.proc = subprocess.Popen(
            [CLI, "agent", *self.args], stdout=handle, stderr=handle, env=self.env
        )
        handle.close()

    def kill9(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@dataclass
class ControlPlane:
    """`silkroute server` as a child process; `start` again after `stop` or `kill9` restarts
    it on the same data (and `db_url`, a PostgreSQL store, where given)."""

    root: Path
    db_url: str | None = None
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None
    admin: str = ""
    agents: list[Agent] = field(default_factory=list)
    server_args: list[str] = field(default_factory=list)  # more `silkroute server` options
    # Run ids restart at job1-a1 with every control plane: each one's are kept apart on the
    # shared test engines (a port alone may come round again to a later test's plane).
    namespace: str = field(default_factory=lambda: f"e2e{secrets.token_hex(4)}")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def data_dir(self) -> Path:
        return self.root / "server"

    def start(self) -> None:
        if not self.admin:
            platform = open_platform(self.data_dir, self.db_url)
            admin = init_admin(platform)
            platform.store.close()
            assert admin is not None
            self.admin = admin
        # The port was free when chosen, not reserved: another process (a parallel test's
        # server, PostgreSQL, Ray) may take it first, or while a killed server was down. Then
        # this one cannot bind it and exits, and, where no agent knows the address yet, it
        # starts again on another port.
        for _ in range(3):
            if self._started():
                return
            if self.agents:
                break
            self.port = free_port()
        raise AssertionError(f"the server did not start on port {self.port}\n{self.logs_tail()}")

    def _started(self) -> bool:
        """Start the server; True once it answers, False if it exited first."""
        args = [CLI, "server", "--data-dir", str(self.data_dir), "--port", str(self.port)]
        args += ["--tick", "0.1", "--grace", str(GRACE_S)]
        args += ["--agent-timeout", str(HEARTBEAT_TIMEOUT_S), *self.server_args]
        if self.db_url:
            args += ["--db", self.db_url]
        handle = open(self.root / "server.log", "ab")  # noqa: SIM115 (the child holds it)
        proc = self.proc = subprocess.Popen(args, stdout=handle, stderr=handle)
        handle.close()

        def answers() -> str:
            if proc.poll() is not None:
                return "exited"
            try:
                # Ours, not whoever else holds the port: only ours knows this admin token.
                got = httpx.get(
                    f"{self.url}/v1/agents",
                    headers={"Authorization": f"Bearer {self.admin}"},
                    timeout=5,
                )
            except httpx.TransportError:
                return ""
            return "up" if got.status_code == 200 else ""

        return wait_until("the server answers", answers, 120) == "up"

    def kill9(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        for agent in self.agents:
            agent.stop()
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def call(self, method: str, path: str, token: str | None = None, **kwargs: Any) -> Any:
        headers = {"Authorization": f"Bearer {token or self.admin}"}
        got = httpx.request(method, f"{self.url}{path}", headers=headers, timeout=30, **kwargs)
        if got.status_code >= 400:  # the processes' logs say why (a flake under load too)
            detail = f"{method} {path}: {got.status_code} {got.text}"
            raise AssertionError(f"{detail}\n{self.logs_tail(1500)}")
        return got.json()

    def add_site(self, site: dict[str, Any]) -> None:
        self.call("POST", "/v1/sites", json=site)

    def tenant(self, name: str, **fields: Any) -> str:
        body = {"name": name, "country": "SG", **fields}
        token: str = self.call("POST", "/v1/tenants", json=body)["token"]
        return token

    def agent(
        self,
        site: str,
        engine_args: list[str],
        env: dict[str, str] | None = None,
        checkpoints: Path | None = None,
    ) -> Agent:
        """An agent process for `site` (its token issued now; started by the caller)."""
        token = self.call("POST", f"/v1/sites/{site}/agent-token")["token"]
        work = self.root / f"agent-{site}"
        args = ["--site", site, *engine_args, "--server", self.url, "--token", token]
        args += ["--work-dir", str(work), "--interval", "0.2", "--namespace", self.namespace]
        args += ["--checkpoint-dir", str(checkpoints or self.root / "checkpoints")]
        agent = Agent(site, args, dict(env or os.environ), self.root / f"agent-{site}.log")
        self.agents.append(agent)
        return agent

    def site_state(self, site: str) -> str:
        agents = {a["site"]: a for a in self.call("GET", "/v1/agents")}
        return str(agents[site]["state"]) if site in agents else "embedded"

    def job(self, token: str, job_id: int) -> dict[str, Any]:
        job: dict[str, Any] = self.call("GET", f"/v1/jobs/{job_id}", token)
        return job

    def wait_job(
        self, token: str, job_id: int, states: tuple[str, ...], timeout_s: float = 90.0
    ) -> dict[str, Any]:
        last: dict[str, Any] = {}

        def reached() -> bool:
            nonlocal last
            last = self.job(token, job_id)
            return last["state"] in states

        try:
            wait_until(f"job {job_id} in {states}", reached, timeout_s)
        except AssertionError:
            tail = self.logs_tail()
            raise AssertionError(f"job {job_id} never {states}: {last}\n{tail}") from None
        return last

    def logs(self, token: str, job_id: int) -> str:
        text: str = self.call("GET", f"/v1/jobs/{job_id}/logs", token)["text"]
        return text

    def wait_output(self, token: str, job_id: int, text: str, timeout_s: float = 90.0) -> str:
        return str(
            wait_until(
                f"job {job_id} prints {text!r}",
                lambda: (out := self.logs(token, job_id)) and text in out and out,
                timeout_s,
            )
        )

    def logs_tail(self, chars: int = 3000) -> str:
        out = []
        for path in sorted(self.root.glob("*.log")):
            out.append(f"--- {path.name}\n{path.read_text(errors='replace')[-chars:]}")
        return "\n".join(out)


def site(name: str, accelerator: str, nodes: int, per_node: int, cpu: int = 4) -> dict[str, Any]:
    """A site whose inventory matches the test engine (Slurm's and Ray's: 2 nodes x 2 GPUs)."""
    return {
        "name": name,
        "country": "SG",
        "nodes": [
            {
                "count": nodes,
                "accelerator": accelerator,
                "accelerators": per_node,
                "cpu": cpu,
                "memory_gib": 4,
            }
        ],
        "price_per_accelerator_hour": {accelerator: 1.0},
    }
