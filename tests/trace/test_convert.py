"""`silkroute trace convert` round-trips: public trace -> JSONL -> the loader's jobs, exactly."""

from __future__ import annotations

import dataclasses
from collections import Counter
from pathlib import Path

import pytest
from typer.testing import CliRunner

from silkroute.cli import app
from silkroute.model.cluster import load_cluster
from silkroute.sim import openb
from silkroute.sim.neutral import load_neutral_trace
from silkroute.sim.trace_cli import safe_name, with_safe_names
from silkroute.sim.truth import SimJob
from silkroute.sim.workloads import nodes_of

runner = CliRunner()


def _fields(job: SimJob, skip: tuple[str, ...] = ()) -> dict[str, object]:
    return {f.name: getattr(job, f.name) for f in dataclasses.fields(SimJob) if f.name not in skip}


def _convert(*args: str) -> None:
    result = runner.invoke(app, ["trace", "convert", *args])
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("pods", ["openb_pod_list_default.csv", "openb_pod_list_gpuspec33.csv"])
def test_openb_round_trip(openb_dir: Path, tmp_path: Path, pods: str) -> None:
    out, cluster_out = tmp_path / "openb.jsonl", tmp_path / "openb.yaml"
    _convert(
        "--from", "openb", str(openb_dir), "--pods", pods, "--seed", "3",
        "--out", str(out), "--cluster-out", str(cluster_out),
    )  # fmt: skip
    expected, _ = openb.pods_to_jobs(openb.load_pods(openb_dir / pods), seed=3)
    cluster = load_cluster(cluster_out)
    back = load_neutral_trace(out, cluster=cluster)
    assert len(back) == len(expected) > 5000
    for got, want in zip(back, expected, strict=True):
        assert _fields(got) == _fields(want), want.name

    # The cluster file holds the same nodes (names aside), grouped.
    def shape(nodes: list) -> Counter:
        return Counter((n.accelerator, n.accelerators, n.cpu_milli, n.mem_mib) for n in nodes)

    assert shape(nodes_of(cluster)) == shape(
        openb.load_nodes(openb_dir / "openb_node_list_all_node.csv")
    )


def test_gavel_round_trip(gavel_trace: Path, tmp_path: Path) -> None:
    from silkroute.sim.gavel import load_gavel_trace

    out, cluster_out = tmp_path / "gavel.jsonl", tmp_path / "gavel.yaml"
    _convert(
        "--from", "gavel", str(gavel_trace), "--out", str(out), "--cluster-out", str(cluster_out)
    )
    expected, skips = load_gavel_trace(gavel_trace)
    back = load_neutral_trace(out, cluster=load_cluster(cluster_out))
    assert len(back) == len(expected) == skips.total_lines - skips.skipped
    renamed = with_safe_names(expected)
    for got, want, named in zip(back, expected, renamed, strict=True):
        assert _fields(got, skip=("name", "id")) == _fields(want, skip=("name", "id"))
        assert got.name == named.name == safe_name(want.name)
    assert [j.id for j in back] == list(range(len(back)))


def test_safe_names_are_valid_and_unique() -> None:
    assert safe_name("line 3: ResNet-18 (batch size 16) x1") == "line-3-ResNet-18-batch-size-16-x1"
    assert safe_name("ok-name/1") == "ok-name/1"
    assert safe_name("(((") == "job"
