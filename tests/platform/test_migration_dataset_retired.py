"""0010_dataset_retired marks retired datasets: datasets stored before it are not retired, and
the migration downgrades cleanly (SQLite and PostgreSQL)."""

from __future__ import annotations

from silkroute.store.db import Store
from tests.platform.migrations import columns, execute, one_row, run


def test_0010_leaves_existing_datasets_unretired_and_downgrades(bare_store: Store) -> None:
    run(bare_store, "upgrade", "0009_run_prices")
    execute(
        bare_store,
        "INSERT INTO tenants (name, country, weight, quota, voucher_accelerator_hours,"
        " pay_as_you_go, created_at, ciio) VALUES ('acme', 'SG', 1, '{}', 0, true, 0, false)",
        "INSERT INTO datasets (name, owner, origin, data_class, subjects, sites, size_bytes,"
        " licence, tags, created_at)"
        " VALUES ('sg-news', 'acme', 'SG', 'public', 0, '[]', 0, '', '[]', 0)",
    )
    run(bare_store, "upgrade", "0010_dataset_retired")
    query = "SELECT name, retired_at, retired_by FROM datasets"
    assert one_row(bare_store, query) == ("sg-news", None, None)
    run(bare_store, "downgrade", "0009_run_prices")
    assert {"retired_at", "retired_by"}.isdisjoint(columns(bare_store, "datasets"))
    assert one_row(bare_store, "SELECT name, origin FROM datasets") == ("sg-news", "SG")
