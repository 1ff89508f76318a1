"""Suite-wide settings.

Property tests explore new random examples on every developer run, but CI runs a fixed,
derandomised set (Hypothesis' `ci` profile, chosen when CI=true): a rare counter-example is
found and fixed on a developer's machine, not by a landing that fails at random.
"""

from __future__ import annotations

import os

from hypothesis import settings

settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI") == "true":
    settings.load_profile("ci")
