"""Fixtures: a real platform (store, live loop, local back end) on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
import uvicorn
import yaml
from fastapi.testclient import TestClient

from silkroute.api.app import create_app
from silkroute.control.boot import init_admin, open_platform
from silkroute.control.service import Platform
from silkroute.store.db import Store, default_url
from silkroute.store.throwaway_pg import PgServer, free_port, start_postgres

# How long a test waits for a condition on a real platform (a job's state, a file, a hold)
# before it fails. Only a failing test waits it out; a passing one goes on the moment the
# condition holds. Generous: CI runs the suite on 2 loaded cores, where starting a job's
# processes alone can take seconds.
WAIT_S = 60.0

DEMO_SITES = yaml.safe_load(
    resources.files("silkroute.control.demo").joinpath("sites.yaml").read_text("utf-8")
)["sites"]


@pytest.fixture(scope="session")
def postgres() -> Iterator[PgServer | str]:
    server = start_postgres()
    yield server
    if isinstance(server, PgServer):
        server.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str | None:
    if request.param == "sqlite":
        return None  # the embedded default under the data dir
    server = request.getfixturevalue("postgres")
    if isinstance(server, str):
        pytest.skip(server)
    return server.new_database()


@pytest.fixture
def bare_store(tmp_path: Path, db_url: str | None) -> Iterator[Store]:
    """A store on an empty database, with no schema yet: the migration tests' starting point."""
    store = Store(db_url or default_url(tmp_path / "data"))
    try:
        yield store
    finally:
        store.close()


@dataclass
class Api:
    client: TestClient
    platform: Platform
    admin: str
    data_dir: Path

    def as_(self, token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}

    def admin_headers(self) -> dict[str, str]:
        return self.as_(self.admin)

    def add_sites(self, sites: list[dict[str, Any]] | None = None) -> None:
        for site in sites if sites is not None else DEMO_SITES:
            got = self.client.post("/v1/sites", json=site, headers=self.admin_headers())
            assert got.status_code == 201, got.text

    def tenant(self, name: str, **fields: Any) -> str:
        body = {"name": name, "country": "SG", **fields}
        got = self.client.post("/v1/tenants", json=body, headers=self.admin_headers())
        assert got.status_code == 201, got.text
        token: str = got.json()["token"]
        return token

    def submit(self, token: str, **fields: Any) -> Any:
        body = {"name": "job", "command": ["true"], **fields}
        return self.client.post("/v1/jobs", json=body, headers=self.as_(token))

    def job(self, token: str, job_id: int) -> dict[str, Any]:
        got = self.client.get(f"/v1/jobs/{job_id}", headers=self.as_(token))
        assert got.status_code == 200, got.text
        data: dict[str, Any] = got.json()
        return data

    def wait_for_output(self, token: str, job_id: int, text: str, timeout: float = WAIT_S) -> None:
        import time

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = self.client.get(f"/v1/jobs/{job_id}/logs", headers=self.as_(token)).json()
            if text in got["text"]:
                return
            time.sleep(0.05)
        raise AssertionError(f"job {job_id} never printed {text!r}")

    def settle(self, passes: int = 10) -> None:
        """Let the live loop make `passes` more passes (each at least its tick apart), so a
        check that nothing happened meanwhile is as strong on a loaded machine, where a
        fixed sleep holds fewer passes, as on an idle one."""
        loop = self.platform.loop
        target = loop.stats.passes + passes
        deadline = time.monotonic() + WAIT_S
        while loop.stats.passes < target:
            assert time.monotonic() < deadline, "the live loop stopped making passes"
            time.sleep(0.02)

    def wait_for(
        self, token: str, job_id: int, states: tuple[str, ...], timeout: float = WAIT_S
    ) -> dict[str, Any]:
        import time

        deadline = time.monotonic() + timeout
        while True:
            job = self.job(token, job_id)
            if job["state"] in states:
                return job
            if time.monotonic() > deadline:
                raise AssertionError(f"job {job_id} still {job['state']}: {job}")
            time.sleep(0.05)


@pytest.fixture
def api(tmp_path: Path, db_url: str | None) -> Iterator[Api]:
    platform = open_platform(tmp_path / "data", db_url, tick_s=0.05, grace_s=3.0)
    admin = init_admin(platform)
    assert admin is not None
    app = create_app(platform)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield Api(client, platform, admin, tmp_path / "data")
    platform.store.close()


@pytest.fixture
def server_url(api: Api) -> Iterator[str]:
    """The `api` fixture's platform (its loop already running) served over real HTTP."""
    app = create_app(api.platform, run_loop=False)
    for _ in range(3):
        # A free port is not a reserved one: whoever binds it first (a parallel test's
        # server) wins, and this server then ends at once; another port is tried.
        port = free_port()
        server = uvicorn.Server(uvicorn.Config(app, port=port, log_level="error"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        while not server.started and thread.is_alive():
            time.sleep(0.02)
        if server.started:
            break
    else:
        raise AssertionError("no port could be bound for the test server")
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)
