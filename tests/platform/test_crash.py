"""kill -9 of the server while clients submit: no acknowledged job lost or doubled, no run
started twice, and scheduling resumes after the restart."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from silkroute.control.boot import open_platform
from silkroute.store.models import JobRow
from tests.agent.harness import ControlPlane
from tests.platform.conftest import DEMO_SITES

pytestmark = pytest.mark.slow
STALL_S = 60.0  # no job changed state for this long: the test fails (it waited on nothing)


def test_kill_9_while_clients_submit_loses_and_doubles_nothing(
    tmp_path: Path, db_url: str | None
) -> None:
    markers = tmp_path / "markers"
    markers.mkdir()
    server = ControlPlane(tmp_path, db_url)
    server.start()
    data_dir = server.data_dir
    try:
        admin_h = {"Authorization": f"Bearer {server.admin}"}
        for site in DEMO_SITES:
            assert (
                httpx.post(f"{server.url}/v1/sites", json=site, headers=admin_h).status_code == 201
            )
        token = httpx.post(
            f"{server.url}/v1/tenants", json={"name": "t", "country": "SG"}, headers=admin_h
        ).json()["token"]
        headers = {"Authorization": f"Bearer {token}"}
        # Each run appends its run id to the job's marker file: two lines = started twice.
        command = f'echo "$SILKROUTE_RUN_ID" >> {markers}/"$SILKROUTE_JOB_ID"; sleep 1'
        body: dict[str, Any] = {
            "name": "crash",
            "command": command,
            "accelerators_per_worker": 0,
            "cpu_per_worker": 1,
        }
        acked: dict[str, int] = {}
        tried: set[str] = set()
        lock = threading.Lock()
        stop = threading.Event()

        def client(worker: int) -> None:
            n = 0
            while not stop.is_set():
                key = f"w{worker}-{n}"
                with lock:
                    tried.add(key)
                try:
                    got = httpx.post(
                        f"{server.url}/v1/jobs",
                        json=body,
                        headers={**headers, "Idempotency-Key": key},
                        # Long: a loaded server answers late, and a killed one at once
                        # (its connections are reset).
                        timeout=30,
                    )
                except httpx.TransportError:
                    return  # the server is gone; this key may or may not be stored
                if got.status_code in (200, 201):
                    with lock:
                        acked[key] = got.json()["id"]
                n += 1

        threads = [threading.Thread(target=client, args=(w,)) for w in range(3)]
        for t in threads:
            t.start()

        def placed() -> bool:  # some job starting or running (the loop keeps pace)
            page = httpx.get(
                f"{server.url}/v1/jobs", params={"limit": 1000}, headers=headers, timeout=30
            ).json()
            return any(j["state"] in ("starting", "running") for j in page["jobs"])

        while len(acked) < 30 or not placed():
            assert any(t.is_alive() for t in threads), f"the clients gave up at {len(acked)}"
            time.sleep(0.05)
        # Some jobs are running, some launching, some pending, and submits are in flight.
        server.kill9()
        stop.set()
        for t in threads:
            t.join()
        crashed = open_platform(data_dir, db_url)
        with crashed.store.session() as session:
            live = session.scalar(
                select(func.count())
                .select_from(JobRow)
                .where(JobRow.state.in_(("starting", "running")))
            )
        crashed.store.close()
        assert live, "the crash left no job running: the test would prove nothing"
        server.start()
        # Clients retry everything they tried; acknowledged keys must give the same job back.
        again: dict[str, int] = {}
        for key in sorted(tried):
            got = httpx.post(
                f"{server.url}/v1/jobs",
                json=body,
                headers={**headers, "Idempotency-Key": key},
                timeout=10,
            )
            assert got.status_code in (200, 201), got.text
            again[key] = got.json()["id"]
        for key, job_id in acked.items():
            assert again[key] == job_id, f"acknowledged {key} came back as another job"
        # Scheduling resumes: every job ends, each run started exactly once. How long that
        # takes depends on how many jobs the clients got in and how loaded the machine is:
        # the wait ends when no job has changed state for STALL_S (a job stuck for ever).
        states: dict[int, str] = {}
        changed = time.monotonic()
        while time.monotonic() - changed < STALL_S:
            page = httpx.get(
                f"{server.url}/v1/jobs", params={"limit": 1000}, headers=headers, timeout=30
            ).json()
            seen = {j["id"]: j["state"] for j in page["jobs"]}
            if seen != states:
                states, changed = seen, time.monotonic()
            if all(s in ("succeeded", "failed", "cancelled") for s in states.values()):
                break
            time.sleep(0.3)
        assert sorted(states) == sorted(set(again.values())), "a job is missing or doubled"
        failed = [
            httpx.get(f"{server.url}/v1/jobs/{j}", headers=headers, timeout=30).json()
            for j, s in states.items()
            if s != "succeeded"
        ]
        assert not failed, [(f["id"], f["state"], f["message"], f["events"]) for f in failed]
        for job_id in states:
            runs = (markers / str(job_id)).read_text().split()
            assert len(runs) == 1, f"job {job_id} started {len(runs)} times: {runs}"
    finally:
        server.stop()
    check = open_platform(data_dir, db_url)
    with check.store.session() as session:
        stored = session.scalar(select(func.count()).select_from(JobRow))
    check.store.close()
    assert stored == len(set(again.values()))
