"""A retire's in-use check ("which of the owner's jobs not yet ended read this dataset") is one
indexed query on `job_datasets`, written with each job (migration 0011_dataset_job_reads),
never a read of the live jobs' specs; its 409 still names the jobs. Real server, store
(SQLite and PostgreSQL), live loop and local back end."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from silkroute.control.governance import Readers, jobs_reading, readers_query
from silkroute.store.db import Store
from silkroute.store.models import DatasetRow
from tests.platform.conftest import Api
from tests.platform.migrations import execute, one_row, run, tables
from tests.platform.test_dataset_copies import SG_NEWS, register
from tests.platform.test_dataset_retire import retire
from tests.platform.test_site_update import site

WHOLE_NODE = {"accelerators_per_worker": 8, "accelerator_types": ["A800"]}


@contextmanager
def statements(session: Session) -> Iterator[list[str]]:
    """Every SQL statement the session runs meanwhile (not the live loop's, on its own
    connections)."""
    mine = session.connection()
    seen: list[str] = []

    def note(connection: Connection, _: Any, statement: str, *rest: Any) -> None:
        if connection is mine:
            seen.append(statement)

    engine = mine.engine
    event.listen(engine, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", note)


def test_the_in_use_refusal_names_the_first_jobs_and_counts_the_rest(api: Api) -> None:
    api.add_sites([site("alpha", 1.0)])
    token, other = api.tenant("acme"), api.tenant("other")
    register(api, token, SG_NEWS)
    register(api, token, {**SG_NEWS, "name": "sg-web"})
    # One job holds the only node; six wait behind it. Jobs reading something else, or
    # nothing, and the other tenant's jobs are not in the way.
    reading = [
        api.submit(token, command="sleep 300", datasets=["sg-news", "sg-news"], **WHOLE_NODE)
        for _ in range(7)
    ]
    ids = [r.json()["id"] for r in reading]
    for fields in ({"datasets": ["sg-web"]}, {}):
        assert api.submit(token, command="true", **fields, **WHOLE_NODE).status_code == 201
    assert api.submit(other, command="true", **WHOLE_NODE).status_code == 201
    api.wait_for(token, ids[0], ("running",))
    got = retire(api, token, "sg-news")
    assert got.status_code == 409, got.text
    assert got.json()["code"] == "in_use"
    named = ", ".join([f"{ids[0]} (running)", *(f"{i} (pending)" for i in ids[1:5])])
    assert got.json()["message"] == (
        f"dataset sg-news is read by jobs not yet ended: {named} and 2 more; their data law "
        "decision was made on it; cancel them (or let them end) first"
    )
    # Ended jobs are not in the way; the last one to end lets the retire through.
    for job in ids[:6]:
        assert api.client.delete(f"/v1/jobs/{job}", headers=api.as_(token)).status_code == 202
    for job in ids[:6]:
        api.wait_for(token, job, ("cancelled",))
    last = retire(api, token, "sg-news")
    assert last.status_code == 409 and f": {ids[6]} (" in last.json()["message"], last.text
    assert api.client.delete(f"/v1/jobs/{ids[6]}", headers=api.as_(token)).status_code == 202
    api.wait_for(token, ids[6], ("cancelled",))
    assert retire(api, token, "sg-news").status_code == 200


def test_the_in_use_check_is_one_query_that_reads_no_job_spec(api: Api) -> None:
    api.add_sites([site("alpha", 1.0)])
    token = api.tenant("acme")
    register(api, token, SG_NEWS)
    for _ in range(3):
        assert api.submit(token, command="true", datasets=["sg-news"]).status_code == 201
    with api.platform.store.session() as session:
        row = session.get(DatasetRow, "sg-news")
        assert row is not None
        with statements(session) as seen:
            jobs_reading(session, row)
    on_jobs = [s for s in seen if re.search(r"\bjobs\b", s)]
    assert len(on_jobs) == 1, seen
    assert "job_datasets" in on_jobs[0] and "jobs.spec" not in on_jobs[0], on_jobs[0]


def add_jobs(api: Api, count: int, live_every: int, reads_every: int) -> None:
    """`count` jobs of acme straight into the store (the submit path would take minutes):
    every `live_every`-th pending, the rest ended; every `reads_every`-th reads sg-news
    (from job 1 on), the others sg-web."""
    engine = api.platform.store.engine
    jobs = [
        {
            "name": f"j{i}",
            "spec": '{"datasets": ["sg-web"]}',
            "state": "pending" if i % live_every == 0 else "succeeded",
            "at": float(i),
        }
        for i in range(count)
    ]
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO jobs (tenant, name, spec, state, submitted_at, attempts, failures,"
                " cancel_requested, message) VALUES ('acme', :name, :spec, :state, :at, 0, 0,"
                " false, '')"
            ),
            jobs,
        )
        connection.execute(
            text(
                "INSERT INTO job_datasets (job_id, dataset) SELECT id, CASE WHEN id % "
                f"{reads_every} = 1 THEN 'sg-news' ELSE 'sg-web' END FROM jobs"
            )
        )
        connection.execute(text("ANALYZE"))


def test_the_in_use_check_is_served_by_indexes_among_many_jobs(api: Api) -> None:
    """Among 20,000 jobs of the owner (2,000 not yet ended) of which 3 read the dataset, the
    database answers from indexes, scanning neither table."""
    api.add_sites([site("alpha", 1.0)])
    token = api.tenant("acme")
    register(api, token, SG_NEWS)
    register(api, token, {**SG_NEWS, "name": "sg-web"})
    add_jobs(api, 20_000, live_every=10, reads_every=7_001)
    engine = api.platform.store.engine
    with api.platform.store.session() as session:
        row = session.get(DatasetRow, "sg-news")
        assert row is not None
        # Jobs 1, 7002 and 14003 read it; only job 1 has not ended.
        assert jobs_reading(session, row) == Readers([(1, "pending")], 1)
    query = readers_query("sg-news", "acme").compile(
        dialect=engine.dialect, compile_kwargs={"literal_binds": True}
    )
    sqlite = engine.dialect.name == "sqlite"
    with engine.begin() as connection:
        explained = connection.execute(
            text(("EXPLAIN QUERY PLAN " if sqlite else "EXPLAIN ") + str(query))
        ).all()
    lines = [str(r[-1]) for r in explained]
    full_scan = r"^SCAN (jobs|job_datasets)\b" if sqlite else r"Seq Scan on (jobs|job_datasets)\b"
    assert not any(re.search(full_scan, line.strip()) for line in lines), lines
    assert any("ix_job_datasets_dataset" in line or "pkey" in line for line in lines), lines


def test_0011_records_what_existing_jobs_read_and_downgrades(bare_store: Store) -> None:
    run(bare_store, "upgrade", "0010_dataset_retired")
    rows = [
        ("reads two, one twice", '{"datasets": ["sg-news", "sg-web", "sg-news"]}'),
        ("reads nothing", '{"datasets": []}'),
        ("an old spec without the field", "{}"),
        ("a null list", '{"datasets": null}'),
    ]
    execute(
        bare_store,
        "INSERT INTO tenants (name, country, weight, quota, voucher_accelerator_hours,"
        " pay_as_you_go, created_at, ciio) VALUES ('acme', 'SG', 1, '{}', 0, true, 0, false)",
        *(
            "INSERT INTO jobs (tenant, name, spec, state, submitted_at, attempts, failures,"
            f" cancel_requested, message) VALUES ('acme', '{name}', '{spec}', 'pending', 0, 0,"
            " 0, false, '')"
            for name, spec in rows
        ),
    )
    run(bare_store, "upgrade", "0011_dataset_job_reads")
    with bare_store.engine.begin() as connection:
        found = connection.execute(
            text(
                "SELECT jobs.name, job_datasets.dataset FROM job_datasets"
                " JOIN jobs ON jobs.id = job_datasets.job_id ORDER BY jobs.id, dataset"
            )
        ).all()
    assert [tuple(r) for r in found] == [
        ("reads two, one twice", "sg-news"),
        ("reads two, one twice", "sg-web"),
    ]
    run(bare_store, "downgrade", "0010_dataset_retired")
    assert "job_datasets" not in tables(bare_store)
    assert one_row(bare_store, "SELECT count(*) FROM jobs") == (4,)
