"""Control-plane benchmark: submits per second through the HTTP API, and the time from submit
to the scheduler's decision with 10,000 jobs pending over the 5 demo sites, on SQLite and on
PostgreSQL, beside Slurm's published 500 jobs/s.

    python -m benchmarks.api_bench                   # both databases
    API_BENCH_JOBS=2000 python -m benchmarks.api_bench   # a smaller backlog

A real server (`silkroute server`, one process) runs beside the client on the same machine.
The client is one asyncio process with CONNECTIONS keep-alive HTTP/1.1 connections, each
sending its next submit as soon as the previous one is answered (about 0.05 ms of client CPU
per submit, so the client does not starve the server of the shared cores); the client's and
the server's CPU per submit are reported beside the rate, the server's from /proc (Linux).
The backlog cannot start (every H100 is held by one long job) so it stays pending; probe jobs
from a second tenant (CPU only, can start at once) are then submitted one at a time, and the
decision time is the server's own `first_decision_at - submitted_at`, read from the store.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table
from sqlalchemy import select

from silkroute.control.boot import init_admin, open_platform
from silkroute.store.db import default_url
from silkroute.store.models import JobRow
from silkroute.store.throwaway_pg import PgServer, free_port, start_postgres

SLURM_JOBS_PER_S = (
    500.0  # Slurm's published sustained submit rate (slurm.schedmd.com/high_throughput.html)
)
BACKLOG = int(os.environ.get("API_BENCH_JOBS", "10000"))
CONNECTIONS = int(os.environ.get("API_BENCH_CONNECTIONS", "16"))
PROBES = 200
PROBE_GAP_S = 0.05


def _sites() -> list[dict[str, Any]]:
    from importlib import resources

    import yaml

    text = resources.files("silkroute.control.demo").joinpath("sites.yaml").read_text("utf-8")
    sites: list[dict[str, Any]] = yaml.safe_load(text)["sites"]
    return sites


def _start_server(data_dir: Path, db_url: str | None, port: int) -> subprocess.Popen[bytes]:
    cli = Path(sys.executable).parent / "silkroute"
    args = [str(cli), "server", "--data-dir", str(data_dir), "--port", str(port), "--tick", "1"]
    if db_url:
        args += ["--db", db_url]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return proc
        except httpx.TransportError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("server did not start")


def _cpu_seconds(pid: int) -> float | None:
    """User + system CPU of a process so far (Linux /proc), None where there is no /proc."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _submit_all(port: int, token: str, count: int, job: dict[str, Any]) -> list[str]:
    """`count` submits over CONNECTIONS keep-alive connections; the errors' bodies."""
    numbers = iter(range(count))
    errors: list[str] = []
    head = (
        f"POST /v1/jobs HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n"
    ).encode()

    async def connection() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            for n in numbers:
                body = json.dumps({**job, "name": f"waits-{n}"}).encode()
                writer.write(head + b"Content-Length: %d\r\n\r\n" % len(body) + body)
                header = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in header.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                answer = await reader.readexactly(length)
                if header[9:12] != b"201":
                    errors.append(answer.decode("utf-8", "replace"))
        finally:
            writer.close()

    await asyncio.gather(*(connection() for _ in range(CONNECTIONS)))
    return errors


def run_one(name: str, db_url: str | None) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="silkroute-bench-") as tmp:
        data_dir = Path(tmp) / "data"
        platform = open_platform(data_dir, db_url)
        admin = init_admin(platform)
        platform.store.close()
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        proc = _start_server(data_dir, db_url, port)
        try:
            return _measure(url, port, proc.pid, str(admin), db_url or default_url(data_dir))
        finally:
            proc.terminate()
            proc.wait(30)


def _measure(url: str, port: int, server_pid: int, admin: str, db_url: str) -> dict[str, float]:
    staff = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {admin}"}, timeout=30)
    for site in _sites():
        staff.post("/v1/sites", json=site).raise_for_status()
    tokens = {}
    for tenant in ("backlog", "probe"):
        # No pending cap: the backlog is the benchmark's load (API_BENCH_JOBS may pass 10,000).
        body = {"name": tenant, "country": "SG", "max_pending_jobs": None}
        got = staff.post("/v1/tenants", json=body)
        tokens[tenant] = got.raise_for_status().json()["token"]
    backlog = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {tokens['backlog']}"})
    blocker = {
        "name": "blocker",
        "command": "sleep 3600",
        "accelerator_types": ["H100"],
        "accelerators_per_worker": 8,
    }
    blocker_id = backlog.post("/v1/jobs", json=blocker).raise_for_status().json()["id"]
    while backlog.get(f"/v1/jobs/{blocker_id}").json()["state"] != "running":
        time.sleep(0.1)
    # 1. Sustained submits: CONNECTIONS keep-alive connections, BACKLOG jobs in all.
    job = {
        "name": "waits",
        "command": "true",
        "accelerator_types": ["H100"],
        "accelerators_per_worker": 8,
    }
    server_before = _cpu_seconds(server_pid)
    client_before = time.process_time()
    started = time.perf_counter()
    errors = asyncio.run(_submit_all(port, tokens["backlog"], BACKLOG, job))
    submit_s = time.perf_counter() - started
    client_cpu_s = time.process_time() - client_before
    server_after = _cpu_seconds(server_pid)
    if errors:
        raise RuntimeError(f"{len(errors)} submits failed, e.g. {errors[0]}")
    server_cpu_ms = (
        float("nan")
        if server_before is None or server_after is None
        else (server_after - server_before) / BACKLOG * 1000
    )
    time.sleep(2.0)  # let the loop take the backlog in
    # 2. Submit -> decision with the backlog pending: probes one at a time.
    probe = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {tokens['probe']}"})
    probe_ids = []
    for n in range(PROBES):
        body = {"name": f"probe-{n}", "command": "true", "accelerators_per_worker": 0}
        probe_ids.append(probe.post("/v1/jobs", json=body).raise_for_status().json()["id"])
        time.sleep(PROBE_GAP_S)
    time.sleep(2.0)
    from silkroute.store.db import Store

    store = Store(db_url)
    with store.session() as session:
        rows = session.execute(
            select(JobRow.submitted_at, JobRow.first_decision_at).where(JobRow.id.in_(probe_ids))
        ).all()
        pending = session.scalar(
            select(JobRow.id).where(JobRow.state == "pending").order_by(JobRow.id.desc()).limit(1)
        )
    store.close()
    latencies = sorted((d - s) * 1000 for s, d in rows if d is not None)
    if len(latencies) < len(probe_ids):
        raise RuntimeError(f"{len(probe_ids) - len(latencies)} probes got no decision")
    p99 = latencies[min(len(latencies) - 1, round(0.99 * (len(latencies) - 1)))]
    assert pending is not None
    return {
        "submits_per_s": BACKLOG / submit_s,
        "server_cpu_ms": server_cpu_ms,
        "client_cpu_ms": client_cpu_s / BACKLOG * 1000,
        "load": os.getloadavg()[0],
        "decision_p50_ms": statistics.median(latencies),
        "decision_p99_ms": p99,
        "pending": float(BACKLOG),
    }


def main() -> None:
    console = Console(width=160)
    results: dict[str, dict[str, float]] = {}
    results["SQLite"] = run_one("SQLite", None)
    server = start_postgres()
    if isinstance(server, PgServer):
        try:
            results["PostgreSQL"] = run_one("PostgreSQL", server.new_database())
        finally:
            server.stop()
    else:
        console.print(f"PostgreSQL skipped: {server}")
    table = Table(
        "database",
        "submits/s (HTTP)",
        "vs Slurm 500/s",
        "server CPU / submit",
        "client CPU / submit",
        "submit->decision p50",
        "p99",
        "pending",
        "load avg",
        title=f"control plane, {CONNECTIONS} connections, one server process, "
        f"{os.cpu_count()} CPUs shared with the client",
    )
    for name, r in results.items():
        table.add_row(
            name,
            f"{r['submits_per_s']:.0f}",
            f"{r['submits_per_s'] / SLURM_JOBS_PER_S:.2f}x",
            f"{r['server_cpu_ms']:.2f} ms",
            f"{r['client_cpu_ms']:.2f} ms",
            f"{r['decision_p50_ms']:.1f} ms",
            f"{r['decision_p99_ms']:.1f} ms",
            f"{r['pending']:.0f}",
            f"{r['load']:.1f}",
        )
    console.print(table)


if __name__ == "__main__":
    main()
