"""A real remote agent (`SiteAgent` over HTTP, local engine) against a real platform, caught at
the awkward moments of a submit: killed half-way through one, or slow to hear it answered.
Each once left a job `starting` or cancelled for ever (seen in the kill -9 test under load)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from silkroute.agent.http import HttpControlPlane
from silkroute.agent.site_agent import SiteAgent
from silkroute.backends.base import LaunchSpec, RunStatus
from silkroute.backends.local import LocalBackend
from tests.agent.test_agent_api import agent_token
from tests.platform.conftest import Api, server_url

__all__ = ["server_url"]

SITE = "hanoi"  # an A800 site of the demo federation


class Died(BaseException):
    """The agent's process ended here (as kill -9 would end it)."""


@pytest.fixture
def make_agent(api: Api, server_url: str, tmp_path: Path) -> Iterator[Any]:
    """Agents for SITE on one engine folder: a new one with the same folder is the old one
    restarted."""
    api.add_sites()
    token = agent_token(api, SITE)
    made: list[SiteAgent] = []

    def make(backend: LocalBackend) -> SiteAgent:
        agent = SiteAgent(
            SITE,
            backend,
            HttpControlPlane(server_url, token),
            tmp_path / "runs",
            tmp_path / "checkpoints",
            report_inventory=False,
            heartbeat_s=0.0,
            orphan_scan_s=0.0,  # every round looks for orphans: the race is there
        )
        made.append(agent)
        return agent

    yield make
    for agent in made:
        agent.close()


def submit(api: Api, tenant: str, command: str) -> int:
    got = api.submit(tenant, command=command, sites=[SITE], accelerators_per_worker=1)
    assert got.status_code == 201, got.text
    job_id: int = got.json()["id"]
    return job_id


def rounds_until(agent: SiteAgent, what: str, done: Any, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not done():
        assert time.monotonic() < deadline, f"{what}: not within {timeout_s} s"
        agent.run_once()
        agent.wake.wait(0.05)
        agent.wake.clear()


def test_a_run_whose_agent_died_mid_submit_is_finished_once_by_the_restarted_agent(
    api: Api, make_agent: Any, tmp_path: Path
) -> None:
    marker = tmp_path / "marker"
    tenant = api.tenant("t1")
    job_id = submit(api, tenant, f'echo "$SILKROUTE_RUN_ID" >> {marker}')
    died = threading.Event()

    def die_before_the_rank_starts(self: LocalBackend, spec: LaunchSpec, rank: int) -> None:
        died.set()
        raise Died

    first = make_agent(LocalBackend(tmp_path / "engine"))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(LocalBackend, "_spawn_if_never_started", die_before_the_rank_starts)
        rounds_until(first, "the first agent submits", died.is_set)
    # The engine has the run on record, and no rank of it ever started.
    assert [s.state.value for s in LocalBackend(tmp_path / "engine").list_runs()] == ["queued"]
    first.close()

    restarted = make_agent(LocalBackend(tmp_path / "engine"))
    rounds_until(
        restarted,
        f"job {job_id} succeeds",
        lambda: api.job(tenant, job_id)["state"] in ("succeeded", "failed", "cancelled"),
    )
    job = api.job(tenant, job_id)
    assert job["state"] == "succeeded", job
    # Its first run, started once: finished, not written off and tried again.
    assert marker.read_text().split() == [f"job{job_id}-a1"]


class AnswersLate(LocalBackend):
    """A submit of `late_run` whose answer comes back only in the agent's next round, after
    that round set aside what was in flight and while it asks the engine about the other
    runs (as a slow engine's or a loaded machine's answer may)."""

    def __init__(self, state_dir: Path, late_run: str) -> None:
        super().__init__(state_dir)
        self.late_run = late_run
        self.agent: SiteAgent | None = None
        self.in_flight = threading.Event()
        self.answer = threading.Event()

    def submit(self, spec: LaunchSpec) -> RunStatus:
        status = super().submit(spec)
        if spec.run_id == self.late_run:
            self.in_flight.set()
            assert self.answer.wait(30), "the agent never asked its engine again"
        return status

    def poll(self, run_ids: Sequence[str]) -> dict[str, RunStatus]:
        if self.in_flight.is_set() and not self.answer.is_set():
            assert self.agent is not None
            self.agent.wake.clear()
            self.answer.set()  # the submit returns now...
            assert self.agent.wake.wait(30)  # ...and its worker is done with the run
        return super().poll(run_ids)


def test_a_run_whose_submit_returns_during_a_round_is_not_taken_for_an_orphan(
    api: Api, make_agent: Any, tmp_path: Path
) -> None:
    tenant = api.tenant("t1")
    running = submit(api, tenant, "sleep 60")  # an assigned run the next round polls
    late = submit(api, tenant, "sleep 0.5; echo done")
    backend = AnswersLate(tmp_path / "engine", late_run=f"job{late}-a1")
    agent = make_agent(backend)
    backend.agent = agent
    try:
        rounds_until(
            agent,
            f"job {late} ends",
            lambda: api.job(tenant, late)["state"] in ("succeeded", "failed", "cancelled"),
        )
        assert backend.answer.is_set(), "the round the test is about never happened"
        job = api.job(tenant, late)
        assert job["state"] == "succeeded", [(e["state"], e["message"]) for e in job["events"]]
    finally:
        assert api.client.delete(f"/v1/jobs/{running}", headers=api.as_(tenant)).is_success
        rounds_until(
            agent, f"job {running} stops", lambda: api.job(tenant, running)["state"] == "cancelled"
        )
