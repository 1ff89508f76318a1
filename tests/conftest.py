"""Suite-wide settings.

Property tests explore new random examples on every developer run, but CI runs a fixed,
derandomised set (Hypothesis' `ci` profile, chosen when CI=true): a rare counter-example is
found and fixed on a developer's machine, not by a landing that fails at random.
"""

from __future__ import annotations

import os

from hypothesis import settings

# Real engines (local, Slurm, Ray) as session fixtures, shared by every test directory.
from tests.engines import local_engine, ray_engine, slurm_engine

__all__ = ["local_engine", "ray_engine", "slurm_engine"]

# No per-example deadline on CI (Hypothesis' default is 200 ms): on 2 loaded cores a
# fast example can take longer, failing a run at random; speed goals live in benchmarks/.
settings.register_profile("ci", derandomize=True, print_blob=True, deadline=None)
if os.environ.get("CI") == "true":
    settings.load_profile("ci")
