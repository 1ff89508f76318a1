"""A node drained in Slurm stops receiving placements in the control plane, and gets them
again once Slurm resumes it: a real control plane, a real `silkroute agent` on the real test
Slurm cluster."""

from __future__ import annotations

import subprocess

import pytest

from tests.agent.harness import ControlPlane, site, wait_until
from tests.backends import slurm_cluster
from tests.engines import Engine

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("slurm")]


def scontrol(engine: Engine, *args: str) -> None:
    done = subprocess.run(
        ["scontrol", *args], env=engine.agent_env, capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 0, done.stderr


def test_a_node_drained_in_slurm_takes_no_placements_until_resumed(
    plane: ControlPlane, slurm_engine: Engine
) -> None:
    plane.add_site(site("edge", "T4", nodes=2, per_node=2, cpu=2))
    drained = slurm_cluster.NODES[1]
    scontrol(slurm_engine, "update", f"nodename={drained}", "state=drain", "reason=test")
    try:
        agent = plane.agent("edge", slurm_engine.agent_args, slurm_engine.agent_env)
        agent.start()
        wait_until("site edge up", lambda: plane.site_state("edge") == "up", 90)

        def engine_drains() -> list[dict[str, object]]:
            nodes = plane.call("GET", "/v1/nodes", params={"site": "edge"})
            return [n for n in nodes if n["engine"]]

        (node,) = wait_until("the control plane drains the node", engine_drains, 60)
        assert node["state"] == "drained" and node["engine_node"] == drained
        assert str(node["engine"]).startswith(f"engine reports node {drained} drained: test"), node
        token = plane.tenant("t1")
        whole_site = {
            "name": "both-nodes", "workers": 2, "accelerators_per_worker": 2,
            "accelerator_types": ["T4"], "cpu_per_worker": 1, "memory_gib_per_worker": 0.5,
            "command": "echo rank $SILKROUTE_RANK on $(hostname)",
        }  # fmt: skip
        job = plane.call("POST", "/v1/jobs", token, json=whole_site)
        with pytest.raises(AssertionError):  # not placed while Slurm has one node drained
            plane.wait_job(token, job["id"], ("starting", "running", "succeeded"), 3.0)
        waiting = plane.job(token, job["id"])
        assert waiting["state"] == "pending" and not waiting["runs"], waiting
    finally:
        scontrol(slurm_engine, "update", f"nodename={drained}", "state=resume")
    done = plane.wait_job(token, job["id"], ("succeeded", "failed"), 120)
    assert done["state"] == "succeeded", done
    assert not engine_drains()
    agents = {a["site"]: a for a in plane.call("GET", "/v1/agents")}
    inventory = agents["edge"]["inventory"]
    assert sorted(n["name"] for n in inventory["nodes"]) == sorted(slurm_cluster.NODES)
    assert agents["edge"]["engine"]["drained"] == {}
