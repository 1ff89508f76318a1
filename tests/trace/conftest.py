"""Paths for the trace tests; tests that need ../shared/data skip when it is absent."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
TRACES = REPO.parent / "shared" / "data" / "traces"
OPENB_DIR = TRACES / "alibaba-openb-2023"
GAVEL_DIR = TRACES / "gavel-msr"
SMALL_TRACE = REPO / "examples" / "traces" / "small.jsonl"
SMALL_CLUSTER = REPO / "examples" / "clusters" / "small.yaml"


@pytest.fixture
def openb_dir() -> Path:
    if not (OPENB_DIR / "openb_node_list_all_node.csv").exists():
        pytest.skip(f"openb trace not found at {OPENB_DIR} (../shared/data is absent)")
    return OPENB_DIR


@pytest.fixture
def gavel_trace() -> Path:
    path = GAVEL_DIR / "seed1-103959.trace"
    if not path.exists() or not (GAVEL_DIR / "simulation_throughputs.json").exists():
        pytest.skip(f"Gavel trace not found at {GAVEL_DIR} (../shared/data is absent)")
    return path
