"""0006_tenant_limits adds the priority ceiling and the pending cap to a database with
tenants and jobs in it: the tenants keep today's behaviour (no ceiling, no cap), and the
migration downgrades cleanly (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import inspect

from silkroute.control.auth import Principal, Role
from silkroute.control.boot import open_platform
from silkroute.control.errors import ServiceError
from silkroute.control.service import add_site
from silkroute.control.submits import prepare
from silkroute.model.cluster import SiteSpec
from silkroute.store.db import Store
from tests.platform.migrations import columns, execute, one_row, run, scalar


def test_0006_upgrades_tenants_to_no_ceiling_and_no_cap_and_downgrades(
    bare_store: Store,
) -> None:
    run(bare_store, "upgrade", "0005_gov3")
    execute(
        bare_store,
        "INSERT INTO tenants (name, country, weight, quota, voucher_accelerator_hours,"
        " pay_as_you_go, created_at, ciio) VALUES ('acme', 'SG', 2, '{}', 5, true, 0, false)",
        "INSERT INTO jobs (tenant, name, spec, state, submitted_at, attempts, failures,"
        " cancel_requested, message) VALUES ('acme', 'j', '{}', 'pending', 0, 0, 0, false, '')",
    )
    run(bare_store, "upgrade", "0006_tenant_limits")
    assert one_row(bare_store, "SELECT weight, max_priority, max_pending_jobs FROM tenants") == (
        2.0,
        None,
        None,
    )
    indexes = {i["name"] for i in inspect(bare_store.engine).get_indexes("jobs")}
    assert "ix_jobs_tenant_state" in indexes
    run(bare_store, "downgrade", "0005_gov3")
    assert {"max_priority", "max_pending_jobs"}.isdisjoint(columns(bare_store, "tenants"))
    indexes = {i["name"] for i in inspect(bare_store.engine).get_indexes("jobs")}
    assert "ix_jobs_tenant_state" not in indexes
    assert scalar(bare_store, "SELECT count(*) FROM jobs") == 1


def test_a_tenant_from_before_0006_still_submits_any_priority(
    bare_store: Store, tmp_path: Path
) -> None:
    """Today's behaviour is kept: an upgraded tenant's critical job is accepted."""
    run(bare_store, "upgrade", "0005_gov3")
    execute(
        bare_store,
        "INSERT INTO tenants (name, country, weight, quota, voucher_accelerator_hours,"
        " pay_as_you_go, created_at, ciio) VALUES ('acme', 'SG', 1, '{}', 0, true, 0, false)",
    )
    platform = open_platform(tmp_path / "data", bare_store.url)  # migrates to head
    admin = Principal(Role.ADMIN)
    try:
        site = {"name": "lab", "country": "SG", "nodes": [{"count": 1, "cpu": 4}]}
        add_site(platform, admin, SiteSpec.model_validate(site))
        body = {"name": "j", "tenant": "acme", "command": "true", "accelerators_per_worker": 0}
        for priority in ("critical", 10**9):
            job = {**body, "priority": priority}
            accepted = platform.submits.submit(prepare(admin, job, None)).result(timeout=60)
            assert accepted.created
    except ServiceError as exc:  # pragma: no cover - the failure's message
        raise AssertionError(exc.message) from None
    finally:
        platform.submits.close()
        platform.store.close()


def test_a_job_stored_before_the_priority_bound_still_loads_at_start_up(
    bare_store: Store, tmp_path: Path
) -> None:
    """The bound is a submit check: a pending job stored with a larger integer priority is
    read back after the upgrade and scheduled (the book is rebuilt from its spec)."""
    run(bare_store, "upgrade", "0005_gov3")
    spec = {
        "name": "old",
        "tenant": "acme",
        "command": "true",
        "accelerators_per_worker": 0,
        "priority": 10**12,
    }
    execute(
        bare_store,
        "INSERT INTO tenants (name, country, weight, quota, voucher_accelerator_hours,"
        " pay_as_you_go, created_at, ciio) VALUES ('acme', 'SG', 1, '{}', 0, true, 0, false)",
        "INSERT INTO jobs (tenant, name, spec, state, submitted_at, attempts, failures,"
        " cancel_requested, message) VALUES ('acme', 'old', '"
        + json.dumps(spec)
        + "', 'pending', 0, 0, 0, false, '')",
    )
    platform = open_platform(tmp_path / "data", bare_store.url)
    try:
        site = {"name": "lab", "country": "SG", "nodes": [{"count": 1, "cpu": 4}]}
        add_site(platform, Principal(Role.ADMIN), SiteSpec.model_validate(site))
        platform.loop.request_rebuild()  # as at start-up: the book from the store
        platform.loop.run_once()
        assert scalar(bare_store, "SELECT state FROM jobs WHERE name = 'old'") == "starting"
    finally:
        platform.submits.close()
        platform.store.close()
