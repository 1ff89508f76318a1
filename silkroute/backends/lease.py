"""A site agent's lease as the local engine's runners see it: engine-side fencing.

The agent (`silkroute agent`) keeps its lease in a folder of its own (`<work-dir>/lease/`):

- `lease.json`: `lease_s`, `grace_s` and `renewed_at` (the wall-clock time the lease runs
  from), written by `SiteAgent._save_lease` at most once a second, so it may say up to a
  second early when the lease was renewed (a reader then fences early, never late);
- `alive`: touched by the agent's lease thread at least once a second, whether or not the
  control plane answers: its modification time says the agent that would fence is alive.

A live agent that loses the control plane stops its runs itself when the lease runs out
(`SiteAgent.check_lease`). A dead agent (kill -9, a crash) cannot: each rank's runner
(`local_runner`) reads this folder and stops its rank, SIGTERM then SIGKILL at the lease's
end plus the grace, only once the lease has run out *and* the agent has been silent for
`AGENT_SILENT_S`: where the agent lives, it alone stops the run (no second SIGTERM cutting a
checkpoint short); an agent restarted within the lease renews it and keeps its runs.
"""

from __future__ import annotations

import os
from pathlib import Path

# The rule itself lives with the Ray gang driver, which is shipped to clusters on its own.
from silkroute.backends.ray_gang.lease import (
    AGENT_SILENT_S,
    ALIVE_FILE,
    LEASE_FILE,
    FenceAction,
    Lease,
    agent_silent_s,
    fence_action,
    next_look_s,
    read_lease,
)

__all__ = [
    "AGENT_SILENT_S",
    "ALIVE_FILE",
    "LEASE_FILE",
    "FenceAction",
    "Lease",
    "agent_silent_s",
    "fence_action",
    "next_look_s",
    "read_lease",
    "touch_alive",
]


def touch_alive(folder: Path) -> None:
    path = folder / ALIVE_FILE
    try:
        os.utime(path)
    except FileNotFoundError:
        path.touch()
