"""The platform fixtures (a real store, live loop and API on SQLite and PostgreSQL), and a real
`silkroute server` process for the end-to-end suites."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.agent.harness import ControlPlane
from tests.engines import engine
from tests.platform.conftest import api, bare_store, db_url, postgres

__all__ = ["api", "bare_store", "db_url", "engine", "plane", "postgres"]


@pytest.fixture
def plane(tmp_path: Path) -> Iterator[ControlPlane]:
    """A control plane server process of its own (stopped after the test)."""
    control = ControlPlane(tmp_path)
    control.start()
    try:
        yield control
    finally:
        control.stop()
