"""0009_run_prices keeps each run's price from its placement: runs stored before it keep
working (no price: charged at their site's price when they end, as before), and the migration
downgrades cleanly (SQLite and PostgreSQL)."""

from __future__ import annotations

from silkroute.control.accounting import run_price
from silkroute.store.db import Store
from silkroute.store.models import RunRow, SiteRow
from tests.platform.migrations import columns, execute, one_row, run

SITE_SPEC = '{"name": "lab", "price_per_accelerator_hour": {"A800": 1.5}}'


def test_0009_gives_existing_runs_no_price_and_downgrades(bare_store: Store) -> None:
    run(bare_store, "upgrade", "0008_node_drain_kept")
    execute(
        bare_store,
        "INSERT INTO tenants (name, country, weight, quota, voucher_accelerator_hours,"
        " pay_as_you_go, created_at, ciio) VALUES ('acme', 'SG', 1, '{}', 0, true, 0, false)",
        "INSERT INTO sites (name, country, spec, created_at)"
        f" VALUES ('lab', 'SG', '{SITE_SPEC}', 0)",
        "INSERT INTO jobs (tenant, name, spec, state, submitted_at, attempts, failures,"
        " cancel_requested, message) VALUES ('acme', 'j', '{}', 'running', 0, 1, 0, false, '')",
        "INSERT INTO runs (run_id, job_id, attempt, site, accelerator_type, accelerators,"
        " placement, state, created_at, engine_message, launch_failed, report_new)"
        " VALUES ('job1-a1', 1, 1, 'lab', 'A800', 2, '[]', 'running', 0, '', false, false)",
    )
    run(bare_store, "upgrade", "0009_run_prices")
    assert one_row(bare_store, "SELECT run_id, price_per_hour FROM runs") == ("job1-a1", None)
    run(bare_store, "downgrade", "0008_node_drain_kept")
    assert "price_per_hour" not in columns(bare_store, "runs")
    assert one_row(bare_store, "SELECT run_id, accelerators FROM runs") == ("job1-a1", 2.0)


def test_a_run_is_charged_at_its_placement_price_and_an_old_run_at_its_sites() -> None:
    site = SiteRow(name="lab", country="SG", spec={"price_per_accelerator_hour": {"A800": 1.5}})
    placed = RunRow(site="lab", accelerator_type="A800", price_per_hour=0.75)
    from_before = RunRow(site="lab", accelerator_type="A800", price_per_hour=None)
    assert run_price(placed, site) == 0.75
    assert run_price(from_before, site) == 1.5
    assert run_price(from_before, None) == 0.0  # a site gone: nothing to charge by
