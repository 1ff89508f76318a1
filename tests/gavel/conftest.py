"""Paths to Gavel's data in ../shared/data; tests that need it skip when it is absent."""

from __future__ import annotations

from pathlib import Path

import pytest

GAVEL_DIR = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "traces" / "gavel-msr"


@pytest.fixture
def gavel_dir() -> Path:
    if not (GAVEL_DIR / "simulation_throughputs.json").exists():
        pytest.skip(f"Gavel's traces are not present at {GAVEL_DIR} (see ../shared/data/README.md)")
    return GAVEL_DIR
