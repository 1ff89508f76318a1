"""Group commit: submits waiting together are stored in one transaction, each answered with
its own outcome, and a refused one never fails the others."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import func, select, text

from silkroute.control import submits
from silkroute.control.auth import Principal, Role
from silkroute.control.errors import ServiceError
from silkroute.control.submits import Accepted, prepare, store_batch
from silkroute.store.models import JobRow
from tests.platform.conftest import Api

STAFF = Principal(Role.ADMIN)


def job(name: str, tenant: str = "t1") -> dict[str, object]:
    return {"name": name, "tenant": tenant, "command": "true", "accelerators_per_worker": 0}


def stored(api: Api) -> list[str]:
    with api.platform.store.session() as session:
        return sorted(session.scalars(select(JobRow.name)))


def test_a_batch_answers_each_submit_on_its_own(api: Api) -> None:
    api.add_sites()
    api.tenant("t1")
    batch = [
        prepare(STAFF, job("first"), None),
        prepare(STAFF, job("orphan", tenant="ghost"), None),
        prepare(STAFF, job("keyed"), "k1"),
        prepare(STAFF, job("keyed"), "k1"),  # a retry that arrived in the same batch
        prepare(STAFF, {**job("huge"), "workers": 4096, "cpu_per_worker": 1024}, None),
    ]
    outcomes = store_batch(api.platform, batch)
    first, ghost, keyed, retried, huge = outcomes
    assert isinstance(first, Accepted) and first.created
    assert isinstance(ghost, ServiceError) and ghost.problems[0].field == "tenant"
    assert isinstance(keyed, Accepted) and keyed.created
    assert isinstance(retried, Accepted) and not retried.created
    assert retried.rows[0].id == keyed.rows[0].id
    assert isinstance(huge, ServiceError) and huge.status == 422
    assert stored(api) == ["first", "keyed"]
    again = store_batch(api.platform, [prepare(STAFF, job("keyed"), "k1")])[0]
    assert isinstance(again, Accepted) and not again.created
    assert again.rows[0].id == keyed.rows[0].id


@contextmanager
def writes_blocked(api: Api) -> Iterator[None]:
    """Hold the database's write lock from outside the server, as a slow disk would."""
    store = api.platform.store
    if store.is_sqlite:
        outside = sqlite3.connect(str(api.data_dir / "silkroute.db"))
        outside.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            outside.rollback()
            outside.close()
        return
    with store.engine.connect() as connection:
        connection.execute(text("LOCK TABLE jobs IN EXCLUSIVE MODE"))
        yield
        connection.rollback()


def test_submits_that_wait_together_share_one_commit(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    api.add_sites()
    api.tenant("t1")
    writer = api.platform.submits
    before = writer.batches
    writing = threading.Event()

    def store_batch_seen(*args: Any, **kwargs: Any) -> Any:
        writing.set()
        return store_batch(*args, **kwargs)

    monkeypatch.setattr(submits, "store_batch", store_batch_seen)
    with writes_blocked(api):
        futures = [writer.submit(prepare(STAFF, job("j0"), None))]
        # The writer has closed its first batch (j0 alone) and waits for the lock with it;
        # the next 49 queue up meanwhile. (Its queue being empty was not enough: a writer
        # slow to go on after taking j0 took some of the 49 into j0's batch too.)
        assert writing.wait(60), "the writer never began its first batch"
        futures += [writer.submit(prepare(STAFF, job(f"j{n}"), None)) for n in range(1, 50)]
        time.sleep(0.3)
        assert not any(f.done() for f in futures)  # none answered before its commit
    outcomes = [f.result(timeout=30) for f in futures]
    assert all(o.created for o in outcomes)
    assert len({o.rows[0].id for o in outcomes}) == 50
    # The first submit's transaction waited on the lock; the other 49 shared the next one.
    assert writer.batches - before == 2
    with api.platform.store.session() as session:
        assert session.scalar(select(func.count()).select_from(JobRow)) == 50


@pytest.mark.parametrize("replicas", [2, 5])
def test_replicas_are_stored_as_one_job_each(api: Api, replicas: int) -> None:
    api.add_sites()
    api.tenant("t1")
    spec = {**job("serve"), "kind": "inference", "replicas": replicas}
    outcome = store_batch(api.platform, [prepare(STAFF, spec, None)])[0]
    assert isinstance(outcome, Accepted)
    assert [r.name for r in outcome.rows] == [f"serve/replica-{k}" for k in range(replicas)]
    assert [r.spec["env"]["SILKROUTE_REPLICA"] for r in outcome.rows] == [
        str(k) for k in range(replicas)
    ]
    assert {r.spec["replicas"] for r in outcome.rows} == {1}
