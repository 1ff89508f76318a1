"""Gangs are all-or-nothing inside one pool; nothing is ever over-allocated."""

from __future__ import annotations

import pytest

from silkroute.scheduler.decisions import Hold, Start
from tests.builders import book_for, job, nodes


@pytest.mark.parametrize(
    ("name", "workers", "gpus", "cluster", "want_started", "want_nodes"),
    [
        ("gang fits on one node", 4, 2, nodes(2, gpus=8), True, 1),
        ("gang spans two nodes", 2, 8, nodes(2, gpus=8), True, 2),
        ("gang one worker too big waits whole", 3, 8, nodes(2, gpus=8), False, 0),
        ("shares pack onto one device", 4, 0.25, nodes(1, gpus=1), True, 1),
        ("five quarter shares do not fit one device", 5, 0.25, nodes(1, gpus=1), False, 0),
        ("cpu-only job runs on a cpu node", 2, 0, nodes(1, gpus=0, accel=None), True, 1),
    ],
)
def test_gang_is_all_or_nothing(
    name: str, workers: int, gpus: float, cluster: list, want_started: bool, want_nodes: int
) -> None:
    book, scheduler = book_for(cluster)
    j = job(name).workers(workers).gpus(gpus).build()
    book.submit(j)
    decisions = scheduler.step(book, 0.0)
    starts = [d for d in decisions if isinstance(d, Start)]
    assert bool(starts) == want_started
    if want_started:
        assert len(starts[0].allocation.workers) == workers
        assert len(starts[0].allocation.nodes()) == want_nodes
    else:
        assert book.cluster.allocated_milli == 0, "a blocked gang must hold nothing"
        holds = [d for d in decisions if isinstance(d, Hold)]
        assert holds and holds[0].reason == "insufficient-capacity"
    book.cluster.check_invariants()


def test_gang_never_straddles_sites() -> None:
    cluster = nodes(1, gpus=8, site="a") + nodes(1, gpus=8, site="b")
    book, scheduler = book_for(cluster)
    book.submit(job("big").workers(2).gpus(8).build())
    decisions = scheduler.step(book, 0.0)
    assert not any(isinstance(d, Start) for d in decisions)


def test_job_restricted_to_types_waits_for_them() -> None:
    cluster = nodes(1, gpus=8, accel="H100") + nodes(1, gpus=8, accel="Ascend910B")
    book, scheduler = book_for(cluster)
    book.submit(job("npu").gpus(8).types("Ascend910B").build())
    (start,) = [d for d in scheduler.step(book, 0.0) if isinstance(d, Start)]
    assert book.cluster.pools[start.allocation.pool].accelerator == "Ascend910B"


def test_unsatisfiable_job_is_named() -> None:
    book, scheduler = book_for(nodes(2, gpus=8))
    reason = scheduler.unsatisfiable(book, job("huge").workers(3).gpus(8).build())
    assert reason is not None and "3 workers" in reason
    assert scheduler.unsatisfiable(book, job("ok").workers(2).gpus(8).build()) is None


def test_release_returns_exactly_what_was_taken() -> None:
    book, scheduler = book_for(nodes(2, gpus=4))
    jobs = [job(f"j{i}").gpus(g).build() for i, g in enumerate([0.5, 0.25, 1, 2, 0.75])]
    for j in jobs:
        book.submit(j)
    scheduler.step(book, 0.0)
    for j in jobs:
        book.finish(j.id, 10.0)
    book.cluster.check_invariants()
    assert book.cluster.allocated_milli == 0
    assert (book.cluster.gpu_free == book.cluster.gpu_cap).all()
