"""Every execution engine behind one fixture, so one conformance suite runs against all of them.

Adding a back end is one entry in `ENGINES` and one `<name>_engine` session fixture, both in
`tests/engines.py` (the fixture returns an `Engine`: see `local_engine`). An engine whose
software is missing skips with the reason.
"""

from __future__ import annotations

from tests.engines import ENGINES, Engine, engine, wait_for_files

__all__ = ["ENGINES", "Engine", "engine", "wait_for_files"]
