"""Every execution engine behind one fixture, so one conformance suite runs against all of them.

Adding a back end is one entry in `ENGINES` and one `<name>_engine` session fixture in
`tests/engines.py` that returns an `Engine` (see `local_engine`). An engine whose software is
missing skips with the reason.
"""

from __future__ import annotations

import pytest

from tests.engines import Engine, wait_for_files

__all__ = ["ENGINES", "Engine", "engine", "wait_for_files"]

ENGINES = ["local", "slurm", "ray"]


# Each engine's tests stay on one xdist worker (`--dist loadgroup`): one cluster per engine.
@pytest.fixture(params=[pytest.param(n, marks=pytest.mark.xdist_group(n)) for n in ENGINES])
def engine(request: pytest.FixtureRequest) -> Engine:
    result = request.getfixturevalue(f"{request.param}_engine")
    assert isinstance(result, Engine)
    return result
