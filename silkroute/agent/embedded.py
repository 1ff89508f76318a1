"""The control plane's embedded execution: one in-process `SiteAgent` per site that has no
remote agent, each with its own `local` back end (subprocesses on this machine).

They take the same path as a remote agent (assignment rows in the store, reports back through
`control/agents.py`), only without HTTP: `make run` and a server without remote agents work
as before, through the one code path.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

from sqlalchemy import select

from silkroute.agent.site_agent import SiteAgent
from silkroute.backends.local import LocalBackend
from silkroute.backends.sandbox import Sandbox
from silkroute.control import agents
from silkroute.control.service import Platform
from silkroute.store.models import SiteRow

log = logging.getLogger("silkroute.agent")


class EmbeddedAgents:
    """One thread serving every site without a remote agent, a round per site each time the
    loop assigns or stops a run, an operation finishes, or `interval_s` passes."""

    def __init__(
        self,
        platform: Platform,
        data_dir: Path,
        interval_s: float = 0.25,
        sandbox: Sandbox | None = None,
    ) -> None:
        """`sandbox`: where set, every site's local jobs run inside it
        (`backends/sandbox.py`)."""
        self.platform = platform
        self.state_dir = Path(data_dir) / "backend"
        self.sandbox = sandbox
        self.interval_s = interval_s
        self.sites_every_s = 2.0
        self.agents: dict[str, SiteAgent] = {}
        self._stop = threading.Event()
        self._wake = platform.loop.assignments_changed
        self._thread: threading.Thread | None = None
        self._last_sites = float("-inf")

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="silkroute-agents", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        for agent in self.agents.values():
            agent.close()

    def run_once(self) -> None:
        if time.monotonic() - self._last_sites >= self.sites_every_s:
            self._refresh_sites()
        for site, agent in list(self.agents.items()):
            try:
                agent.run_once()
            except Exception:  # one site's trouble must not stop the others
                log.exception("embedded agent of site %s: round failed", site)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()
            self.run_once()
            self._wake.wait(self.interval_s)

    def _refresh_sites(self) -> None:
        self._last_sites = time.monotonic()
        with self.platform.store.session() as session:
            sites = set(session.scalars(select(SiteRow.name)))
        embedded = sites - agents.remote_sites(self.platform)
        for site in sorted(embedded - self.agents.keys()):
            runs = self.platform.loop.runs_dir
            self.agents[site] = SiteAgent(
                site=site,
                backend=LocalBackend(self.state_dir / site, sandbox=self.sandbox),
                control=agents.InProcess(self.platform, site),
                work_dir=runs,
                checkpoint_root=runs,
                orphan_scan_s=10.0,
                report_inventory=False,
                log_interval_s=0.2,
            )
            self.agents[site].wake = self._wake  # a finished operation: a round at once
        for site in sorted(self.agents.keys() - embedded):
            # Handed to a remote agent: what this one started there, that one now reconciles.
            self.agents.pop(site).close()
