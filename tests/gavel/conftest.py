"""Paths to Gavel's data in ../shared/data; tests that need it skip when it is absent."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from silkroute.scheduler.state import NodeInfo
from silkroute.sim.gavel import load_gavel_trace
from silkroute.sim.workloads import Workload

TYPES = ("V100", "P100", "K80")
# Steps per second of the three tiny job types on each accelerator type (Gavel's file format).
TINY_RATES = {
    "v100": {"('A', 1)": {"null": 10.0}, "('B', 1)": {"null": 4.0}, "('A', 2)": {"null": 18.0}},
    "p100": {"('A', 1)": {"null": 6.0}, "('B', 1)": {"null": 3.5}, "('A', 2)": {"null": 11.0}},
    "k80": {"('A', 1)": {"null": 1.0}, "('B', 1)": {"null": 2.0}, "('A', 2)": {"null": 1.8}},
}


def tiny_nodes(per_type: int) -> list[NodeInfo]:
    return [
        NodeInfo(f"{t.lower()}-{i}", "lab", t, 1, 8000, 65536)
        for t in TYPES
        for i in range(per_type)
    ]


def tiny_workload(
    tmp_path: Path, name: str, jobs: int, wide_every: int, steps: int, gap_s: float, per_type: int
) -> Workload:
    """A Gavel trace written to `tmp_path` and loaded: `jobs` jobs `gap_s` apart, every
    `wide_every`-th a 2-GPU gang of type A, the others alternating A and B, of 1-5 x `steps`."""
    (tmp_path / "simulation_throughputs.json").write_text(json.dumps(TINY_RATES))
    lines = []
    for i in range(jobs):
        job_type, scale = ("A", 2) if i % wide_every == 0 else (("A", 1) if i % 2 else ("B", 1))
        size = steps * (1 + (i * 7) % 5)
        lines.append(f"{job_type}\tcmd\t-n\t1\t{size}\t{i * gap_s:.1f}\t{scale}")
    trace = tmp_path / f"{name}.trace"
    trace.write_text("\n".join(lines) + "\n")
    loaded, skips = load_gavel_trace(trace)
    assert skips.skipped == 0
    return Workload(name, tiny_nodes(per_type), loaded)


GAVEL_DIR = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "traces" / "gavel-msr"


@pytest.fixture
def gavel_dir() -> Path:
    if not (GAVEL_DIR / "simulation_throughputs.json").exists():
        pytest.skip(f"Gavel's traces are not present at {GAVEL_DIR} (see ../shared/data/README.md)")
    return GAVEL_DIR
