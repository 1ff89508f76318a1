"""What a dataset retire's in-use check costs ("which of the owner's jobs not yet ended read
this dataset?") as the owner's live jobs grow: the indexed query on `job_datasets`
(`governance.jobs_reading`) against the baseline it replaced, which read every live job of
the owner and looked in its spec (measured in the same run, on the same rows). SQLite in a
temporary directory, and a throwaway PostgreSQL where Debian's server is installed.

    python -m benchmarks.retire_check_bench
    RETIRE_BENCH_SIZES=10000 RETIRE_BENCH_DATASETS=200 python -m benchmarks.retire_check_bench

The owner's live jobs read `RETIRE_BENCH_DATASETS` other datasets in turn; one in 5,000 reads
the one retired. Both answers are checked equal before they are timed.
"""

from __future__ import annotations

import json
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from silkroute.control.auth import Principal, Role
from silkroute.control.boot import open_platform
from silkroute.control.governance import READING_STATES, jobs_reading, register_dataset
from silkroute.control.service import create_tenant
from silkroute.model.job import JobSpec
from silkroute.model.tenant import TenantSpec
from silkroute.store.models import DatasetRow, JobRow
from silkroute.store.throwaway_pg import start_postgres

SIZES = [int(s) for s in os.environ.get("RETIRE_BENCH_SIZES", "1000,10000,100000").split(",")]
SPREADS = [int(s) for s in os.environ.get("RETIRE_BENCH_DATASETS", "2,200").split(",")]
READS_EVERY = 5000
REPEATS = 3
console = Console(width=160)


def spec_scan(session: Session, row: DatasetRow) -> tuple[list[int], int]:
    """The baseline: every live job of the owner read, its spec searched in Python."""
    query = (
        select(JobRow)
        .where(JobRow.tenant == row.owner, JobRow.state.in_(READING_STATES))
        .order_by(JobRow.id)
    )
    jobs = [j for j in session.scalars(query) if row.name in (j.spec.get("datasets") or ())]
    return [j.id for j in jobs[:5]], len(jobs)


def timed(run: Callable[[], Any]) -> float:
    times = []
    for _ in range(REPEATS):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def fill(url: str | None, data: Path, live: int, spread: int) -> Any:
    platform = open_platform(data, url)
    admin = Principal(Role.ADMIN)
    create_tenant(platform, admin, TenantSpec(name="acme", country="SG"), None)
    body = {"name": "sg-news", "origin": "SG", "data_class": "public", "owner": "acme"}
    register_dataset(platform, admin, body)
    job = {
        "name": "train",
        "tenant": "acme",
        "command": ["python", "train.py", "--epochs", "3"],
        "env": {"HF_HOME": "/data/hf"},
        "accelerators_per_worker": 8,
    }

    def spec(i: int) -> str:
        reads = "sg-news" if i % READS_EVERY == 1 else f"other-{i % spread}"
        return json.dumps(JobSpec.model_validate({**job, "datasets": [reads]}).model_dump())

    rows = [{"name": f"j{i}", "spec": spec(i + 1), "at": float(i)} for i in range(live)]
    with platform.store.engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO jobs (tenant, name, spec, state, submitted_at, attempts, failures,"
                " cancel_requested, message) VALUES ('acme', :name, :spec, 'pending', :at, 0,"
                " 0, false, '')"
            ),
            rows,
        )
        other = f"'other-' || (id % {spread})"
        reads = f"CASE WHEN id % {READS_EVERY} = 1 THEN 'sg-news' ELSE {other} END"
        connection.execute(
            text(f"INSERT INTO job_datasets (job_id, dataset) SELECT id, {reads} FROM jobs")
        )
        connection.execute(text("ANALYZE"))
    return platform


def measure(label: str, url: Callable[[], str | None]) -> list[tuple[str, int, int, float, float]]:
    out = []
    for spread in SPREADS:
        for live in SIZES:
            with tempfile.TemporaryDirectory() as tmp:
                platform = fill(url(), Path(tmp) / "data", live, spread)
                try:
                    with platform.store.session() as session:
                        row = session.get(DatasetRow, "sg-news")
                        assert row is not None
                        first, count = spec_scan(session, row)
                        found = jobs_reading(session, row)
                        assert ([j for j, _ in found.first], found.count) == (first, count)
                        before = timed(lambda: spec_scan(session, row))  # noqa: B023
                        after = timed(lambda: jobs_reading(session, row))  # noqa: B023
                finally:
                    platform.submits.close()
                    platform.store.close()
            out.append((label, spread, live, before * 1000, after * 1000))
    return out


def main() -> None:
    rows = measure("SQLite", lambda: None)
    server = start_postgres()
    if isinstance(server, str):
        console.print(f"PostgreSQL skipped: {server}")
    else:
        try:
            rows += measure("PostgreSQL", server.new_database)
        finally:
            server.stop()
    table = Table(
        "store",
        "datasets read",
        "owner's live jobs",
        "spec scan, ms",
        "indexed query, ms",
        "x faster",
        title=f"retire's in-use check (one live job in {READS_EVERY:,} reads the dataset)",
    )
    for label, spread, live, before, after in rows:
        table.add_row(
            label,
            f"{spread:,}",
            f"{live:,}",
            f"{before:.1f}",
            f"{after:.2f}",
            f"{before / after:.0f}",
        )
    console.print(table)


if __name__ == "__main__":
    main()
