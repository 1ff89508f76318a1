"""A site's inventory as its engine reports it: compared with the declared site (drains and
caps, never growth), registered by the agent when it changes, refused field by field when
bad, and applied by the live loop like an operator's drain."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from silkroute.agent.site_agent import SiteAgent
from silkroute.backends.local import LocalBackend
from silkroute.control.inventory import compare
from silkroute.model.cluster import SiteSpec
from silkroute.model.inventory import SiteInventory
from silkroute.store.models import AuditRecordRow
from tests.agent.harness import CLI, ControlPlane, wait_until
from tests.agent.test_agent_api import agent_token, assignments
from tests.platform.conftest import WAIT_S, Api

SITE = "edge"
NODE0, NODE1 = f"{SITE}-a100-00000", f"{SITE}-a100-00001"


def declared(prefix: str | None = None, accelerator: str = "A100") -> SiteSpec:
    group: dict[str, Any] = {"count": 2, "accelerator": accelerator, "accelerators": 2, "cpu": 8}
    if prefix:
        group["name_prefix"] = prefix
    return SiteSpec.model_validate(
        {"name": SITE, "country": "SG", "nodes": [group], "price_per_accelerator_hour": {}}
    )


def node(name: str, state: str = "up", gpus: int = 2, kind: str | None = None, **more: Any) -> Any:
    return {"name": name, "cpus": 8, "memory_gib": 512, "accelerator": kind,
            "accelerators": gpus, "state": state, **more}  # fmt: skip


def engine(*nodes: dict[str, Any]) -> SiteInventory:
    return SiteInventory.model_validate({"engine": "slurm", "nodes": list(nodes)})


@pytest.mark.parametrize(
    ("spec", "inventory", "drained", "capped", "undeclared"),
    [
        pytest.param(
            declared(), engine(node("n1"), node("n2")), {}, {}, [],
            id="an engine that reports every declared node up changes nothing",
        ),
        pytest.param(
            declared(), engine(node("n1"), node("n2", "down")),
            {NODE1: "engine reports node n2 down"}, {}, [],
            id="a node the engine reports down is drained, saying so",
        ),
        pytest.param(
            declared(), engine(node("n1", "drained", reason="test"), node("n2")),
            {NODE0: "engine reports node n1 drained: test"}, {}, [],
            id="a node drained in the engine is drained with the engine's reason",
        ),
        pytest.param(
            declared(), engine(node("n1")),
            {NODE1: "engine reports no node for it (1 engine node(s) for 2 declared)"}, {}, [],
            id="a declared node the engine does not report is drained",
        ),
        pytest.param(
            declared(), engine(node("n1"), node("n2", gpus=1)), {}, {NODE1: (2, 1)}, [],
            id="a node with fewer accelerators than declared is capped",
        ),
        pytest.param(
            declared(), engine(node("n1", gpus=8), node("n2"), node("n3")), {}, {}, ["n3"],
            id="engine nodes and accelerators beyond the declaration add nothing",
        ),
        pytest.param(
            declared(prefix="n"), engine(node("n-00001", "down"), node("n-00000")),
            {"n-00001": "engine reports node n-00001 down"}, {}, [],
            id="nodes named as the engine names them are paired by name",
        ),
        pytest.param(
            declared(), engine(node("n1", kind="a100"), node("n2", kind="L40S")),
            {NODE1: "engine reports no node for it (2 engine node(s) for 2 declared)"}, {},
            ["n2"],
            id="an engine node of another accelerator type stands for no declared node",
        ),
    ],
)  # fmt: skip
def test_the_engine_can_take_capacity_away_but_never_add_it(
    spec: SiteSpec,
    inventory: SiteInventory,
    drained: dict[str, str],
    capped: dict[str, tuple[int, int]],
    undeclared: list[str],
) -> None:
    diff = compare(spec, inventory)
    assert diff.drained == drained
    assert diff.capped == capped
    assert diff.undeclared == undeclared
    assert len(diff.differences()) == len(drained) + len(capped) + bool(undeclared)


# ----- the agent registers it, when it changes --------------------------------------------------
class Recorder:
    """A control plane that records the heartbeats it gets (and has no runs)."""

    def __init__(self) -> None:
        self.beats: list[dict[str, Any]] = []
        self.stored = True

    def heartbeat(self, body: dict[str, Any]) -> dict[str, Any]:
        self.beats.append(body)
        return {"heartbeat_s": 0.0, "inventory_stored": self.stored}

    def assignments(self) -> list[dict[str, Any]]:
        return []

    def report(self, run_id: str, body: dict[str, Any]) -> dict[str, Any]:
        return {}

    def ship_log(self, run_id: str, body: dict[str, Any]) -> dict[str, Any]:
        return {}


def test_the_agent_sends_its_inventory_on_registering_and_when_it_changes(tmp_path: Path) -> None:
    backend = LocalBackend(tmp_path / "engine", accelerator="A100", accelerators=2)
    control = Recorder()
    agent = SiteAgent(
        SITE, backend, control, tmp_path / "runs", tmp_path / "ck", heartbeat_s=0, inventory_s=0
    )
    try:
        for _ in range(3):
            agent.run_once()
        sent = [b.get("inventory") for b in control.beats]
        assert sent[0] is not None and sent[1:] == [None, None], "sent again unchanged"
        assert sent[0]["nodes"][0]["accelerators"] == 2 and sent[0]["engine"] == "local"
        backend.accelerators = 1  # the engine changed
        agent.run_once()
        assert control.beats[-1]["inventory"]["nodes"][0]["accelerators"] == 1
        control.stored = False  # the control plane lost it: the next beat brings it again
        agent.run_once()
        agent.run_once()
        assert control.beats[-1].get("inventory") is not None
    finally:
        agent.close()


# ----- the control plane: bad bodies, drains, caps ---------------------------------------------
def site(nodes: int = 2) -> dict[str, Any]:
    return declared().model_dump(mode="json") | {
        "nodes": [{"count": nodes, "accelerator": "A100", "accelerators": 2, "cpu": 8}]
    }


def beat(api: Api, token: str, inventory: Any) -> Any:
    body = {"backend": "slurm", "inventory": inventory}
    return api.client.post("/v1/agent/heartbeat", json=body, headers=api.as_(token))


def good(*nodes: dict[str, Any]) -> dict[str, Any]:
    return {"engine": "slurm", "nodes": list(nodes)}


@pytest.mark.parametrize(
    ("inventory", "field"),
    [
        pytest.param([1, 2], "inventory", id="an inventory that is not an object"),
        pytest.param({"engine": "slurm"}, "inventory.nodes", id="no nodes"),
        pytest.param(good(node("n1", cpus=-1)), "inventory.nodes[0].cpus", id="negative CPUs"),
        pytest.param(
            good(node("n1"), node("n2", "sleepy")),
            "inventory.nodes[1].state",
            id="a state no engine has",
        ),
        pytest.param(
            good(node("n1", gpus="two")),
            "inventory.nodes[0].accelerators",
            id="accelerators that are not a count",
        ),
        pytest.param(
            good(node("n1", colour="red")),
            "inventory.nodes[0].colour",
            id="a field the inventory does not have",
        ),
        pytest.param(good(node("n1"), node("n1")), "inventory.nodes", id="a node twice"),
        pytest.param(good(node("")), "inventory.nodes[0].name", id="a node without a name"),
    ],
)
def test_a_bad_inventory_is_refused_in_one_line_naming_the_field(
    api: Api, inventory: Any, field: str
) -> None:
    api.add_sites([site()])
    token = agent_token(api, SITE)
    got = beat(api, token, inventory)
    assert got.status_code == 422, got.text
    error = got.json()
    assert error["errors"][0]["field"] == field, error
    assert error["message"].startswith(f"{field}: ") and "\n" not in error["message"]
    agents = api.client.get("/v1/agents", headers=api.admin_headers()).json()
    assert agents[0]["inventory"] == {}, "nothing of a bad inventory is stored"


def nodes_view(api: Api) -> dict[str, dict[str, Any]]:
    got = api.client.get("/v1/nodes", params={"site": SITE}, headers=api.admin_headers())
    assert got.status_code == 200, got.text
    return {n["node"]: n for n in got.json()}


def wait_assignment(api: Api, token: str, inventory: dict[str, Any], timeout_s: float) -> bool:
    """Heartbeat as an agent would until the site gets a run (True) or time runs out."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert beat(api, token, inventory).status_code == 200
        if assignments(api, token):
            return True
        time.sleep(0.1)
    return False


def test_nodes_the_engine_takes_away_get_no_work_until_it_gives_them_back(api: Api) -> None:
    api.add_sites([site()])
    token = agent_token(api, SITE)
    n2_down = good(node("n1"), node("n2", "down", reason="Not responding"))
    assert beat(api, token, n2_down).status_code == 200
    tenant = api.tenant("t1")
    whole_site = {"workers": 2, "accelerators_per_worker": 2, "accelerator_types": ["A100"]}
    job = api.submit(tenant, **whole_site).json()["id"]
    assert not wait_assignment(api, token, n2_down, 2.0), "placed on a node its engine lost"
    view = nodes_view(api)
    assert view[NODE1]["state"] == "drained"
    assert view[NODE1]["engine"] == "engine reports node n2 down: Not responding"
    assert view[NODE0]["state"] == "active" and view[NODE0]["engine_node"] == "n1"
    waiting = api.job(api.admin, job)
    assert waiting["state"] == "pending" and waiting["reasons_by_site"].get(SITE), waiting
    # Up again, but with one GPU: the node is capped, the job still does not fit.
    one_gpu = good(node("n1"), node("n2", gpus=1))
    assert not wait_assignment(api, token, one_gpu, 2.0)
    view = nodes_view(api)
    assert view[NODE1]["state"] == "active" and view[NODE1]["engine_accelerators"] == 1
    agents = api.client.get("/v1/agents", headers=api.admin_headers()).json()
    assert agents[0]["engine"]["capped"] == {NODE1: {"declared": 2, "engine": 1}}
    # Everything back: the job is placed over both nodes.
    assert wait_assignment(api, token, good(node("n1"), node("n2")), WAIT_S)
    placed = {worker for worker, _ in assignments(api, token)[0]["workers"]}
    assert placed == {NODE0, NODE1}
    with api.platform.store.session() as session:  # the engine's drains are on the record
        details = session.scalars(
            select(AuditRecordRow.detail).where(AuditRecordRow.subject == f"site/{SITE}")
        ).all()
    engine_records = [d for d in details if "engine inventory" in d]
    assert any("engine reports node n2 down" in d for d in engine_records), details
    assert any("undrained" in d for d in engine_records), details


def test_an_engine_cannot_grow_a_site(api: Api) -> None:
    api.add_sites([site(nodes=1)])
    token = agent_token(api, SITE)
    bigger = good(node("n1", gpus=8), node("n2"), node("n3"))
    tenant = api.tenant("t1")
    three_gpus = {"workers": 1, "accelerators_per_worker": 3, "accelerator_types": ["A100"]}
    got = api.submit(tenant, **three_gpus)
    # Refused at submit (no declared node has 3) or left waiting: never placed.
    if got.status_code == 201:
        assert not wait_assignment(api, token, bigger, 2.0)
    else:
        assert got.status_code == 422, got.text
        assert beat(api, token, bigger).status_code == 200
    agents = api.client.get("/v1/agents", headers=api.admin_headers()).json()
    assert agents[0]["engine"]["undeclared"] == ["n2", "n3"]
    assert [n["accelerators"] for n in nodes_view(api).values()] == [2]


def test_the_cli_shows_what_the_engine_takes_away(tmp_path: Path) -> None:
    plane = ControlPlane(tmp_path)
    plane.start()
    try:
        plane.add_site(site())
        token = plane.call("POST", f"/v1/sites/{SITE}/agent-token")["token"]
        inventory = good(node("n1", gpus=1), node("n2", "drained", reason="fan"), node("n3"))
        body = {"backend": "slurm", "inventory": inventory}
        plane.call("POST", "/v1/agent/heartbeat", token, json=body)
        env = {**os.environ, "SILKROUTE_URL": plane.url, "SILKROUTE_TOKEN": plane.admin}

        def cli(*args: str) -> str:
            done = subprocess.run([CLI, *args], env=env, capture_output=True, text=True)
            assert done.returncode == 0, done.stderr
            return done.stdout

        shown = wait_until(
            "the drain applied", lambda: "drained" in (out := cli("site", "show", SITE)) and out
        )
        assert NODE1 in shown and "engine reports node n2 drained: fan" in shown, shown
        assert "capped to 1 of 2 accelerators" in shown, shown
        assert "engine nodes not declared (not used): n3" in shown, shown
        listed = cli("agents")
        assert SITE in listed and "2/3" in listed, listed  # engine nodes up / reported
    finally:
        plane.stop()


def test_a_job_on_devices_its_engine_lost_waits_for_its_run_to_stop_before_running_again(
    api: Api,
) -> None:
    api.add_sites([site()])
    token = agent_token(api, SITE)
    whole = good(node("n1"), node("n2"))
    assert beat(api, token, whole).status_code == 200
    tenant = api.tenant("t1")
    job = api.submit(tenant, accelerators_per_worker=2, accelerator_types=["A100"]).json()["id"]
    assert wait_assignment(api, token, whole, WAIT_S)
    run = assignments(api, token)[0]
    started = {"state": "running", "started_at": time.time()}
    got = api.client.post(
        f"/v1/agent/runs/{run['run_id']}/status", json=started, headers=api.as_(token)
    )
    assert got.status_code == 200, got.text
    api.wait_for(api.admin, job, ("running",))
    # The engine now has one device fewer on the job's node: the run must stop first.
    held = run["workers"][0][0]
    engine_node = "n1" if held == NODE0 else "n2"
    capped = good(*(node(n, gpus=1 if n == engine_node else 2) for n in ("n1", "n2")))
    deadline = time.monotonic() + WAIT_S
    while (found := assignments(api, token)) and found[0]["intent"] != "stop":
        assert time.monotonic() < deadline, "the run on the capped node was never stopped"
        assert beat(api, token, capped).status_code == 200
        time.sleep(0.1)
    waiting = api.wait_for(api.admin, job, ("terminating",))
    assert waiting["hold_reason"] == "fenced" and held in waiting["hold_message"], waiting
    api.settle(20)  # the other node is free, yet nothing starts before the stop is reported
    assert beat(api, token, capped).status_code == 200
    assert [a["run_id"] for a in assignments(api, token)] == [run["run_id"]]
    stopped = {"state": "cancelled", "ended_at": time.time()}
    got = api.client.post(
        f"/v1/agent/runs/{run['run_id']}/status", json=stopped, headers=api.as_(token)
    )
    assert got.status_code == 200, got.text
    while not (new := [a for a in assignments(api, token) if a["run_id"] != run["run_id"]]):
        assert time.monotonic() < deadline + 20, "the job was never placed again"
        assert beat(api, token, capped).status_code == 200
        time.sleep(0.1)
    assert new[0]["attempt"] == 2 and new[0]["workers"][0][0] != held, new
    reasons = [e["reason"] for e in api.job(api.admin, job)["events"]]
    assert reasons.count("node-capped") == 2, reasons  # waiting, then queued again
