"""Preemption: who may evict whom, and exactly how much work a victim loses."""

from __future__ import annotations

import pytest

from silkroute.scheduler.decisions import Preempt, Start
from silkroute.sim.engine import Simulator
from tests.builders import book_for, job, nodes


@pytest.mark.parametrize(
    ("name", "victim_priority", "preemptible", "want_preempted"),
    [
        ("higher priority evicts preemptible low", 0, True, True),
        ("never evicts a non-preemptible job", 0, False, False),
        ("never evicts an equal priority", 300, True, False),
    ],
)
def test_who_may_preempt(
    name: str, victim_priority: int, preemptible: bool, want_preempted: bool
) -> None:
    book, scheduler = book_for(nodes(1, gpus=8))
    low = job("low").gpus(8).priority(victim_priority).set(preemptible=preemptible).build()
    book.submit(low)
    scheduler.step(book, 0.0)
    high = job("high").gpus(8).priority(300).build()
    book.submit(high)
    decisions = scheduler.step(book, 10.0)
    preempted = [book.job(d.job_id).name for d in decisions if isinstance(d, Preempt)]
    assert (preempted == ["low"]) == want_preempted
    assert any(isinstance(d, Start) and d.job_id == high.id for d in decisions) == want_preempted


def test_victim_choice_is_cheapest_and_minimal() -> None:
    book, scheduler = book_for(nodes(2, gpus=8))
    old = job("old").gpus(8).priority(0).set(preemptible=True).build()
    new = job("new").gpus(8).priority(0).set(preemptible=True).build()
    book.submit(old)
    scheduler.step(book, 0.0)
    book.submit(new)
    scheduler.step(book, 50.0)
    book.submit(job("urgent").gpus(8).priority(400).build())
    decisions = scheduler.step(book, 100.0)
    # Only one node is needed, and the job that started last loses least.
    assert [book.job(d.job_id).name for d in decisions if isinstance(d, Preempt)] == ["new"]
    assert old.id in book.running  # still holds its node


@pytest.mark.parametrize(
    ("name", "checkpoint_s", "preempt_at", "want_lost_s", "want_remaining"),
    [
        ("no checkpoints lose everything", None, 250.0, 250.0, 1.0),
        ("loses the work since the last checkpoint", 100.0, 250.0, 50.0, 0.8),
        ("preempted right at a checkpoint loses nothing", 100.0, 200.0, 0.0, 0.8),
        ("before the first checkpoint loses all of it", 100.0, 60.0, 60.0, 1.0),
    ],
)
def test_preemption_loses_exactly_the_work_since_last_checkpoint(
    name: str,
    checkpoint_s: float | None,
    preempt_at: float,
    want_lost_s: float,
    want_remaining: float,
) -> None:
    book, scheduler = book_for(nodes(1, gpus=4))
    victim = (
        job("victim")
        .gpus(2)
        .workers(2)
        .priority(0)
        .runs(1000.0)
        .set(preemptible=True, checkpoint_interval_s=checkpoint_s)
        .build()
    )
    urgent = job("urgent").gpus(4).priority(300).at(preempt_at).runs(10.0).build()
    Simulator(book, scheduler, [victim, urgent]).run("t")
    assert victim.preemptions == 1
    assert victim.lost_gpu_s == pytest.approx(want_lost_s * 4)
    # The victim restarts when `urgent` ends and runs only its remaining work.
    restart = preempt_at + 10.0
    assert victim.end_time == pytest.approx(restart + want_remaining * 1000.0)
