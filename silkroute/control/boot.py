"""Assemble a platform: the store (migrated), the live loop, and the embedded agents that run
the jobs of every site without a remote agent (each with its own local back end)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from silkroute.audit.log import load_private_key
from silkroute.backends.sandbox import SandboxMode, make_sandbox
from silkroute.control.auth import Role, issue_token
from silkroute.control.loop import ControlLoop
from silkroute.control.service import Platform
from silkroute.policy.operator import OperatorPolicies
from silkroute.store.audit import signing_key
from silkroute.store.db import default_url, open_store
from silkroute.store.models import TokenRow


def open_platform(
    data_dir: Path,
    db_url: str | None = None,
    tick_s: float = 1.0,
    grace_s: float = 10.0,
    audit_key: Path | None = None,
    operator_policies: Path | None = None,
    agent_timeout_s: float = 15.0,
    sandbox: SandboxMode = SandboxMode.OFF,
    agent_lease_s: float | None = None,
    budget_stops_running: bool = False,
) -> Platform:
    """Data under `data_dir` (SQLite database unless `db_url`, run folders, back-end state).

    `audit_key`: the audit log's Ed25519 signing key (PEM); default `<data_dir>/audit.key`,
    made on first start. `operator_policies`: the operator's Cedar file (checked at once).
    `agent_timeout_s`: a remote agent silent this long has its site marked down.
    `agent_lease_s` (default: `agent_timeout_s`): a remote agent out of reach this long stops
    its runs itself; a down site's jobs are requeued only after this lease and `grace_s`.
    `sandbox`: how the embedded sites' local jobs are kept from the data directory, the audit
    key and a SQLite database kept elsewhere (`backends/sandbox.py`; a BackendError where it
    cannot be made). `budget_stops_running`: a tenant whose monthly budget is spent has its
    running jobs stopped too (default: they finish; its waiting jobs are held either way)."""
    data_dir = Path(data_dir).resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    # Decided before anything runs: a sandbox that cannot be made fails the start, not every
    # round of the embedded agents.
    private = [p for p in (data_dir, audit_key, sqlite_file(db_url)) if p is not None]
    job_sandbox = make_sandbox(sandbox, private)
    store = open_store(db_url or default_url(data_dir))
    loop = ControlLoop(
        store,
        data_dir,
        tick_s=tick_s,
        grace_s=grace_s,
        agent_timeout_s=agent_timeout_s,
        lease_s=agent_lease_s,
        budget_stops_running=budget_stops_running,
    )
    # The audit log's signing key: made on first start (`admin init`) in the data directory.
    loop.audit_key = load_private_key(audit_key) if audit_key else signing_key(data_dir, True)
    if operator_policies is not None:
        text = operator_policies.read_text("utf-8")
        OperatorPolicies(text, {})  # a bad file fails the start, naming the problem
        loop.operator_policies = text
    platform = Platform(store, loop)
    from silkroute.agent.embedded import EmbeddedAgents  # (the agent room imports control)

    loop.companions.append(EmbeddedAgents(platform, data_dir, sandbox=job_sandbox))
    return platform


def init_admin(platform: Platform, force: bool = False) -> str | None:
    """An admin token, printed once; None when an admin exists already (unless `force`)."""
    with platform.store.session() as session:
        admins = session.scalar(
            select(func.count()).select_from(TokenRow).where(TokenRow.role == Role.ADMIN.value)
        )
        if admins and not force:
            return None
        return issue_token(session, Role.ADMIN, label="admin")


def sqlite_file(db_url: str | None) -> Path | None:
    """The database file of a SQLite URL (None for the default, inside the data directory,
    and for a server database)."""
    if db_url is None:
        return None
    url = make_url(db_url)
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return None
    return Path(url.database)
