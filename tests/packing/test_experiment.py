"""End to end on tiny synthetic pods, the CLI's errors, and the real trace when present."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from silkroute.cli import app
from silkroute.sim.packing.experiment import parse_seeds
from silkroute.sim.packing.report import load_published
from silkroute.sim.packing.workload import inflate_pods
from tests.packing.test_properties import as_pod

TRACE = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "traces"
OPENB = TRACE / "alibaba-openb-2023"
NODES = "sn,cpu_milli,memory_mib,gpu,model\n" + "".join(
    f"n{i},32000,131072,{g},T4\n" for i, g in enumerate([2, 2, 4, 8, 1, 4])
)
PODS = "name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec\n" + "".join(
    f"p{i},{c},1024,{g},{m},\n"
    for i, (c, g, m) in enumerate(
        [(2000, 1, 500), (4000, 1, 1000), (1000, 1, 250), (8000, 2, 1000), (2000, 0, 0)] * 3
    )
)


@pytest.fixture
def tiny_trace(tmp_path: Path) -> Path:
    folder = tmp_path / "trace"
    folder.mkdir()
    (folder / "openb_node_list_all_node.csv").write_text(NODES)
    (folder / "openb_node_list_gpu_node.csv").write_text(NODES)
    (folder / "openb_pod_list_default.csv").write_text(PODS)
    return folder


def test_end_to_end_writes_results(tiny_trace: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    args = ["sim", "packing", "--trace", str(tiny_trace), "--seeds", "1-3", "--out", str(out)]
    result = CliRunner().invoke(app, [*args, "--workers", "1"])
    assert result.exit_code == 0, result.output
    doc = json.loads((out / "results.json").read_text())
    # The candidates not adopted run only when named; silk-r4 (the rule silk replaced) runs.
    assert set(doc["policies"]) == {
        "fgd", "fgd-exact", "bestfit", "dotprod", "gpupacking", "gpuclustering", "random", "silk",
        "silk-r4", "silk-classic", "silk-r7",
    }  # fmt: skip
    for entry in doc["policies"].values():
        for metric in ("unallocated_pct", "allocated_pct", "fragmentation_pct"):
            assert set(entry[metric]) >= {"50", "100", "130"}
        assert entry["wall_s"] >= 0
        assert entry["unallocated_pct"]["100"] == pytest.approx(100 - entry["allocated_pct"]["100"])
    assert (out / "unallocated.png").stat().st_size > 0
    # Deterministic: the same seeds give the same numbers.
    again = tmp_path / "again"
    CliRunner().invoke(app, [*args[:-1], str(again), "--workers", "1"])
    second = json.loads((again / "results.json").read_text())
    for name, entry in doc["policies"].items():
        assert second["policies"][name]["unallocated_pct"] == entry["unallocated_pct"]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--policy", "fgd,nope"], "valid: fgd, bestfit"),
        (["--seeds", "9-3"], "bad --seeds"),
        (["--seeds", "x"], "bad --seeds"),
        (["--seeds", "5-1"], "the range 5-1 runs backwards"),
        (["--seeds", "1-100000000000"], "more than 10,000 seeds"),  # was a MemoryError
        (["--workers", "0"], "'--workers'"),  # was run as 1 worker, and -5 too
        # Both were ignored, unsaid:
        (["--spec-mix", "openb_pod_list_default.csv"], "--spec-mix: only with a gpuspec variant"),
        (
            ["--spec-mix", "openb_pod_list_default.csv", "--variant", "sharing60"],
            "--spec-mix: only",
        ),
        (["--inflate", "0"], "--inflate"),
        (["--pods", "missing.csv"], "no missing.csv"),
    ],
)
def test_bad_input_is_one_line_exit_2(tiny_trace: Path, extra: list[str], message: str) -> None:
    result = CliRunner().invoke(app, ["sim", "packing", "--trace", str(tiny_trace), *extra])
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize("below", ["", "sub"])
def test_an_out_that_is_a_file_is_refused_before_the_runs(
    tiny_trace: Path, tmp_path: Path, below: str
) -> None:
    # It was a FileExistsError traceback once every run had finished, the results lost.
    afile = tmp_path / "results.txt"
    afile.write_text("kept\n")
    out = afile / below if below else afile
    args = ["sim", "packing", "--trace", str(tiny_trace), "--seeds", "1", "--out", str(out)]
    result = CliRunner().invoke(app, [*args, "--policy", "fgd", "--workers", "1"])
    assert result.exit_code == 2, result.output
    assert result.output.startswith(f"error: --out {out}: ")
    assert "packing" not in result.output  # refused before any run started
    assert afile.read_text() == "kept\n"


@pytest.mark.parametrize(
    ("name", "file", "text", "expected"),
    [
        (
            "no GPU node gave NaN in every result",
            "openb_node_list_gpu_node.csv",
            "sn,cpu_milli,memory_mib,gpu,model\nn0,32000,131072,0,\n",
            "openb_node_list_gpu_node.csv: no node has a GPU: nothing to pack",
        ),
        (
            "no GPU pod was a traceback from a worker",
            "openb_pod_list_default.csv",
            "name,cpu_milli,memory_mib,num_gpu,gpu_milli\np0,1000,1024,0,0\n",
            "openb_pod_list_default.csv: no pod asks for a GPU: nothing to pack",
        ),
    ],
)
def test_a_trace_that_cannot_be_packed_is_refused_before_the_runs(
    tiny_trace: Path, tmp_path: Path, name: str, file: str, text: str, expected: str
) -> None:
    (tiny_trace / file).write_text(text)
    out = tmp_path / "out"
    args = ["sim", "packing", "--trace", str(tiny_trace), "--seeds", "1", "--out", str(out)]
    result = CliRunner().invoke(app, [*args, "--policy", "fgd", "--workers", "1"])
    assert result.exit_code == 2, result.output
    assert result.output == f"error: {tiny_trace}/{expected}\n"
    assert not out.exists()


def test_missing_trace_exit_2(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["sim", "packing", "--trace", str(tmp_path / "none")])
    assert result.exit_code == 2 and "Traceback" not in result.output


def test_parse_seeds() -> None:
    assert parse_seeds("42-44") == (42, 43, 44)
    assert parse_seeds("1,2,5-6") == (1, 2, 5, 6)


def test_inflation_stops_before_exceeding() -> None:
    pods = [as_pod(i, 1, m, 1, None) for i, m in enumerate([500, 1000, 250, 0])]
    for seed in range(5):
        out = inflate_pods(pods, capacity_milli=10_000, inflate=1.3, seed=seed)
        total = sum(p.gpu_request_milli for p in out)
        assert total <= 13_000 and total > 13_000 - 1000
        assert sorted(p.name for p in out[:4]) == ["p0", "p1", "p2", "p3"]  # originals first
        assert out == inflate_pods(pods, 10_000, 1.3, seed)


def test_openb_single_run_beats_bestfit() -> None:
    if not OPENB.exists():
        pytest.skip(f"openb trace not found at {OPENB} (../shared/data is absent)")
    from silkroute.sim.openb import load_nodes, load_pods
    from silkroute.sim.packing.driver import run_packing
    from silkroute.sim.packing.workload import target_of

    nodes = load_nodes(OPENB / "openb_node_list_gpu_node.csv")
    assert (len(nodes), sum(n.accelerators for n in nodes)) == (1213, 6212)
    pods = load_pods(OPENB / "openb_pod_list_default.csv")
    silk = run_packing(nodes, pods, "silk", 42, 1.05, target_of(pods))
    fit = run_packing(nodes, pods, "bestfit", 42, 1.05, target_of(pods))
    assert silk.metrics["unallocated_pct"][100] < fit.metrics["unallocated_pct"][100]


def test_published_figures_are_read_per_workload(tmp_path: Path) -> None:
    (tmp_path / "fgd_published_unallocated.csv").write_text(
        "workload,policy,arrived_pct,unallocated_pct_median,unallocated_pct_p25,"
        "unallocated_pct_p75,seeds\n"
        "openb_pod_list_default,fgd,100,4.77,4.7,4.8,10\n"
        "openb_pod_list_gpuspec33,fgd,100,12.12,12.0,12.2,10\n"
    )
    assert load_published(tmp_path, "openb_pod_list_default") == {"fgd": {100: (4.77, 4.7, 4.8)}}
    assert load_published(tmp_path / "absent", "openb_pod_list_default") == {}


def test_variant_runs_end_to_end(tiny_trace: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    args = ["sim", "packing", "--trace", str(tiny_trace), "--policy", "fgd,silk", "--seeds", "1"]
    result = CliRunner().invoke(app, [*args, "--variant", "sharing60", "--out", str(out)])
    assert result.exit_code == 0, result.output
    doc = json.loads((out / "results.json").read_text())
    assert doc["config"]["variant"] == "sharing60"
    bad = CliRunner().invoke(app, [*args, "--variant", "sharing", "--out", str(out)])
    assert bad.exit_code == 2 and "bad variant" in bad.output


def test_floor_is_the_gpus_not_yet_arrived_and_no_policy_goes_below_it(tiny_trace: Path) -> None:
    from silkroute.sim.openb import load_nodes, load_pods
    from silkroute.sim.packing.driver import run_packing
    from silkroute.sim.packing.workload import target_of

    nodes = load_nodes(tiny_trace / "openb_node_list_gpu_node.csv")
    pods = load_pods(tiny_trace / "openb_pod_list_default.csv")
    # A pod no node can host (16 GPUs on nodes of at most 8): it arrives, it is never placed.
    pods = [pods[0], as_pod(99, gpus=16, milli=1000, cores=1, spec=None), *pods[1:]]
    capacity = sum(n.accelerators for n in nodes) * 1000
    for policy in ("fgd", "silk", "bestfit"):
        run = run_packing(nodes, pods, policy, 1, 1.3, target_of(pods))
        floor, unallocated = run.metrics["floor_pct"], run.metrics["unallocated_pct"]
        # The floor is computed from the arrivals alone; no placement leaves less.
        assert all(u >= f - 1e-4 for u, f in zip(unallocated, floor, strict=True)), policy
        assert floor[0] == 100 and floor[130] == 0  # more than the capacity arrived by then
        # The 16-GPU pod is the second to arrive: from the level it arrived at on, every
        # policy is 16 GPUs above the floor (at least; later pods may fail too).
        assert unallocated[100] - floor[100] >= 16 * 100_000 / capacity - 1e-4, policy  # rounded
