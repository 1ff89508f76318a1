"""The simulator: deterministic, measures what it claims, and runs the real loaders."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from silkroute.cli import app
from silkroute.sim.metrics import AllocationMeter, jain_index
from silkroute.sim.runner import PolicySpec, run_policy
from silkroute.sim.workloads import Workload, load_workload
from tests.builders import job, nodes

REPO = Path(__file__).resolve().parents[2]
OPENB = REPO.parent / "shared" / "data" / "traces" / "alibaba-openb-2023"
SCALE_CLUSTER = REPO / "examples" / "clusters" / "asean-5000pf.yaml"
VOLATILE = {"wall_s", "events_per_s"}


def _stable(metrics: dict[str, float]) -> dict[str, float]:
    return {k: v for k, v in metrics.items() if k not in VOLATILE}


@pytest.mark.parametrize("policy", ["fifo", "fairshare", "las:greedy", "priority:none"])
def test_same_seed_gives_identical_metrics(policy: str) -> None:
    runs = []
    for _ in range(2):
        workload = load_workload(
            "synthetic", cluster=str(SCALE_CLUSTER), jobs=1500, load=1.5, seed=7
        )
        runs.append(_stable(run_policy(workload, PolicySpec.parse(policy)).metrics))
    assert runs[0] == runs[1]


def test_other_seed_gives_other_workload() -> None:
    a = load_workload("synthetic", cluster=str(SCALE_CLUSTER), jobs=200, seed=1)
    b = load_workload("synthetic", cluster=str(SCALE_CLUSTER), jobs=200, seed=2)
    assert [j.submit_time for j in a.jobs] != [j.submit_time for j in b.jobs]


def test_allocation_meter_is_time_weighted() -> None:
    meter = AllocationMeter(capacity_milli=4000)
    meter.advance(0.0, 0, waiting=False)
    meter.advance(10.0, 4000, waiting=True)  # 10 s fully allocated, queue not empty
    meter.advance(40.0, 1000, waiting=False)  # 30 s at a quarter
    assert meter.allocation == pytest.approx((10 * 1.0 + 30 * 0.25) / 40)
    assert meter.allocation_under_backlog == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("values", "want"), [([1, 1, 1], 1.0), ([1, 0, 0, 0], 0.25), ([2, 1], 9 / 10)]
)
def test_jain_index(values: list[float], want: float) -> None:
    assert jain_index(values) == pytest.approx(want)


def test_tiny_replay_metrics_are_hand_checked() -> None:
    jobs = [
        job("a").gpus(8).at(0).runs(100).build(),
        job("b").gpus(8).at(0).runs(50).build(),
    ]
    workload = Workload("tiny", nodes(1, gpus=8), jobs)
    m = run_policy(workload, PolicySpec.parse("fifo")).metrics
    assert m["makespan_s"] == pytest.approx(150)
    assert m["mean_jct_s"] == pytest.approx((100 + 150) / 2)
    assert m["mean_queueing_delay_s"] == pytest.approx(50)
    assert m["allocation"] == pytest.approx(1.0)


def test_unknown_policy_names_valid_ones() -> None:
    with pytest.raises(ValueError, match="valid: fairshare, fifo, las, priority"):
        PolicySpec.parse("lifo")


def test_openb_replay_through_the_cli(tmp_path: Path) -> None:
    if not OPENB.exists():
        pytest.skip(f"openb trace not found at {OPENB} (../shared/data is absent)")
    result = CliRunner().invoke(
        app,
        [
            "sim",
            "--trace",
            str(OPENB),
            "--policy",
            "fifo,las",
            "--load",
            "50",
            "--sites",
            "2",
            "--jobs",
            "1500",
            "--out",
            str(tmp_path),
        ],
    )
    assert result.exit_code == 0, result.output
    payload = json.loads((tmp_path / "results.json").read_text())
    assert set(payload["policies"]) == {"fifo", "las"}
    for metrics in payload["policies"].values():
        assert 0 < metrics["allocation"] <= 1
        assert {
            "allocation_under_backlog",
            "mean_jct_s",
            "p99_jct_s",
            "makespan_s",
            "events_per_s",
        } <= set(metrics)
    assert (tmp_path / "allocation.png").stat().st_size > 1000
    assert (tmp_path / "jct_cdf.png").stat().st_size > 1000
