"""What each engine reports it offers (`Backend.inventory`), read from the real engines the
suite starts, and Slurm's node lines parsed case by case."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest

from silkroute.backends import ray_nodes
from silkroute.backends.local import LocalBackend
from silkroute.backends.slurm_nodes import parse_nodes
from silkroute.model.inventory import NodeCondition
from tests.backends import ray_head, slurm_cluster
from tests.engines import Engine


def scontrol(engine: Engine, *args: str) -> None:
    done = subprocess.run(
        ["scontrol", *args], env=engine.agent_env, capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 0, done.stderr


@pytest.mark.xdist_group("slurm")
def test_slurms_inventory_is_the_test_clusters_nodes_and_gres(slurm_engine: Engine) -> None:
    found = slurm_engine.make().inventory()
    assert found.engine == "slurm"
    assert [n.name for n in found.nodes] == list(slurm_cluster.NODES)
    for node in found.nodes:
        assert node.cpus == slurm_cluster.CPUS_PER_NODE
        assert node.accelerators == slurm_cluster.GPUS_PER_NODE and node.accelerator is None
        assert node.memory_gib == pytest.approx(8000 / 1024, abs=0.01)  # RealMemory=8000
        assert node.state is NodeCondition.UP


@pytest.mark.xdist_group("slurm")
def test_a_node_drained_in_slurm_reads_drained_until_resumed(slurm_engine: Engine) -> None:
    backend = slurm_engine.make()
    node = slurm_cluster.NODES[1]
    scontrol(slurm_engine, "update", f"nodename={node}", "state=drain", "reason=test")
    try:
        drained = backend.inventory().node(node)
        assert drained is not None and drained.state is NodeCondition.DRAINED
        assert drained.reason.startswith("test")
        other = backend.inventory().node(slurm_cluster.NODES[0])
        assert other is not None and other.state is NodeCondition.UP
    finally:
        scontrol(slurm_engine, "update", f"nodename={node}", "state=resume")
    # Slurm pings a resumed node first (IDLE+NOT_RESPONDING for a moment: down meanwhile).
    deadline = time.monotonic() + 60
    while (back := backend.inventory().node(node)) is None or back.state is not NodeCondition.UP:
        assert time.monotonic() < deadline, f"{node} not up again after resume: {back}"
        time.sleep(0.3)
    assert back.reason == ""


@pytest.mark.xdist_group("ray")
def test_rays_inventory_is_its_live_nodes_with_their_gpus(ray_engine: Engine) -> None:
    found = ray_engine.make().inventory()
    assert found.engine == "ray"
    alive = [n for n in found.nodes if n.state is NodeCondition.UP]
    assert sorted(n.name for n in alive) == sorted(ray_head.NODES)  # by their node label
    for node in alive:
        assert node.accelerators == ray_head.GPUS_PER_NODE and node.cpus == 2
        assert node.memory_gib > 0


def test_the_local_inventory_is_this_host_with_the_accelerators_it_was_given(
    tmp_path: Path,
) -> None:
    found = LocalBackend(tmp_path, accelerator="h100", accelerators=4).inventory()
    assert found.engine == "local" and len(found.nodes) == 1
    host = found.nodes[0]
    assert host.cpus == len(os.sched_getaffinity(0))
    assert host.accelerator == "H100" and host.accelerators == 4  # the catalogue's name
    pages = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    assert host.memory_gib == pytest.approx(pages / 2**30, rel=0.01)
    split = LocalBackend(tmp_path, nodes=2).inventory()
    assert [n.accelerators for n in split.nodes] == [0, 0]
    assert sum(n.cpus for n in split.nodes) == pytest.approx(host.cpus)


LINE = (
    "NodeName={name} Arch=x86_64 CoresPerSocket=1 CPUAlloc=0 CPUEfctv=4 CPUTot={cpus} "
    "CPULoad=0.00 AvailableFeatures=(null) ActiveFeatures=(null) Gres={gres} NodeAddr=127.0.0.1 "
    "NodeHostName=localhost Version=22.05.8 OS=Linux 6.1.0 #1 SMP RealMemory={mem} "
    "AllocMem=0 FreeMem=1000 Sockets=4 Boards=1 State={state} ThreadsPerCore=1 TmpDisk=0 "
    "Weight=1 Owner=N/A MCS_label=N/A Partitions={partitions} BootTime=None "
    "CfgTRES=cpu=4,mem=8000M,billing=4,gres/gpu=2 AllocTRES= CapWatts=n/a {reason}"
)


def line(
    name: str = "n1",
    cpus: int = 4,
    gres: str = "gpu:2",
    mem: int = 8000,
    state: str = "IDLE",
    partitions: str = "debug",
    reason: str = "",
) -> str:
    return LINE.format(
        name=name, cpus=cpus, gres=gres, mem=mem, state=state, partitions=partitions,
        reason=f"Reason={reason}" if reason else "",
    )  # fmt: skip


@pytest.mark.parametrize(
    ("text", "accelerator", "count", "state", "reason"),
    [
        pytest.param(line(), None, 2, "up", "", id="an idle node with untyped GPUs is up"),
        pytest.param(line(gres="gpu:a100:4(S:0-1)"), "A100", 4, "up", "",
                     id="typed GRES with sockets gives the catalogue's type"),
        pytest.param(line(gres="gpu:a100:2,gpu:a100:1"), "A100", 3, "up", "",
                     id="several entries of one type add up"),
        pytest.param(line(gres="gpu:a100:2,gpu:t4:1"), None, 3, "up", "",
                     id="entries of different types add up without a type"),
        pytest.param(line(gres="(null)"), None, 0, "up", "", id="no GRES means no accelerators"),
        pytest.param(line(state="MIXED"), None, 2, "up", "", id="a busy node is up"),
        pytest.param(line(state="IDLE+DRAIN", reason="test [root@2026-11-30T19:00:00]"),
                     None, 2, "drained", "test [root@2026-11-30T19:00:00]",
                     id="a drained node keeps its reason, spaces and all"),
        pytest.param(line(state="MIXED+DRAIN", reason="maintenance"), None, 2, "drained",
                     "maintenance", id="a draining node is drained"),
        pytest.param(line(state="DOWN*", reason="Not responding"), None, 2, "down",
                     "Not responding", id="a node not responding is down"),
        pytest.param(line(state="IDLE*"), None, 2, "down", "",
                     id="an idle node marked not responding is down"),
        pytest.param(line(state="DOWN+DRAIN", reason="bad"), None, 2, "down", "bad",
                     id="down wins over drained"),
        pytest.param(line(state="FUTURE"), None, 2, "down", "", id="a future node is down"),
    ],
)  # fmt: skip
def test_slurm_node_lines_parse(
    text: str, accelerator: str | None, count: int, state: str, reason: str
) -> None:
    (node,) = parse_nodes(text)
    assert (node.name, node.cpus, node.memory_gib) == (
        "n1",
        4,
        pytest.approx(8000 / 1024, abs=1e-3),
    )
    assert (node.accelerator, node.accelerators) == (accelerator, count)
    assert (node.state.value, node.reason) == (state, reason)


def test_a_partition_keeps_only_its_nodes() -> None:
    text = "\n".join([line("n1", partitions="gpu,debug"), line("n2", partitions="cpu"), ""])
    assert [n.name for n in parse_nodes(text, "gpu")] == ["n1"]
    assert [n.name for n in parse_nodes(text)] == ["n1", "n2"]


def ray_row(node_id: str, state: str = "ALIVE", label: str | None = "n1", **res: float) -> dict:
    resources = {"CPU": 2.0, "GPU": 2.0, "memory": 4 * 2**30, **res}
    labels = {"silkroute.io/node": label} if label else {}
    return {"node_id": node_id, "node_name": "10.0.0.5", "state": state,
            "state_message": None if state == "ALIVE" else "heartbeats missed",
            "resources_total": resources, "labels": labels}  # fmt: skip


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        pytest.param([ray_row("aa11")], [("n1", None, 2, "up")], id="a live labelled node"),
        pytest.param([ray_row("aa11", **{"accelerator_type:A100": 1.0})], [("n1", "A100", 2, "up")],
                     id="Ray's detected accelerator type is kept"),
        pytest.param([ray_row("aa11", "DEAD"), ray_row("bb22")], [("n1", None, 2, "up")],
                     id="a restarted node's live entry wins over its dead one"),
        pytest.param([ray_row("bb22"), ray_row("aa11", "DEAD")], [("n1", None, 2, "up")],
                     id="whatever order Ray lists them in"),
        pytest.param([ray_row("aa11", "DEAD", label="n2")], [("n2", None, 2, "down")],
                     id="a dead node is down"),
        pytest.param([ray_row("aa11bbcc99", label=None)], [("10.0.0.5-aa11bbcc", None, 2, "up")],
                     id="an unlabelled node is named by its address and id"),
    ],
)  # fmt: skip
def test_ray_node_lists_parse(rows: list[dict], expected: list[tuple]) -> None:
    found = ray_nodes.parse_nodes(rows, "silkroute.io/node")
    assert [(n.name, n.accelerator, n.accelerators, n.state.value) for n in found] == expected
    assert all(n.cpus == 2 and n.memory_gib == 4 for n in found)
