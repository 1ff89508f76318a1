"""Which job goes first, per queue order. One row per case: name, jobs, who starts."""

from __future__ import annotations

import pytest

from silkroute.model.tenant import TenantSpec
from silkroute.scheduler.decisions import Start
from tests.builders import book_for, job, nodes


def _first_started(order: str, jobs: list, running: list | None = None, **kw: object) -> str:
    book, scheduler = book_for(nodes(1, gpus=8), order=order, preemption="none", **kw)
    for r in running or []:
        book.submit(r)
    scheduler.step(book, 0.0)
    for j in jobs:
        book.submit(j)
    started = [book.job(d.job_id).name for d in scheduler.step(book, 1.0) if isinstance(d, Start)]
    return started[0] if started else ""


CASES = [
    (
        "fifo takes the earliest arrival",
        "fifo",
        [job("late").gpus(8).at(1).build(), job("early").gpus(8).at(0).build()],
        None,
        "early",
    ),
    (
        "priority takes the highest class first",
        "priority",
        [job("normal").gpus(8).at(0).build(), job("high").gpus(8).priority(300).at(1).build()],
        None,
        "high",
    ),
    (
        "las takes the job with least attained service",
        "las",
        [
            job("veteran").gpus(8).at(0).set(attained_gpu_s=50_000.0).build(),
            job("fresh").gpus(8).at(1).build(),
        ],
        None,
        "fresh",
    ),
    (
        "las is fifo within one service queue",
        "las",
        [
            job("second").gpus(8).at(1).set(attained_gpu_s=10.0).build(),
            job("first").gpus(8).at(0).set(attained_gpu_s=20.0).build(),
        ],
        None,
        "first",
    ),
]


@pytest.mark.parametrize(("name", "order", "jobs", "running", "want"), CASES)
def test_queue_order(name: str, order: str, jobs: list, running: list | None, want: str) -> None:
    assert _first_started(order, jobs, running) == want


def test_fairshare_serves_the_tenant_with_the_smaller_dominant_share() -> None:
    # t1 already holds 4 of 8 accelerators; the next free slot goes to t2 even though
    # t1's job arrived first.
    book, scheduler = book_for(nodes(1, gpus=8), order="fairshare", preemption="none")
    book.submit(job("t1-running").gpus(4).tenant("t1").build())
    scheduler.step(book, 0.0)
    book.submit(job("t1-next").gpus(4).tenant("t1").at(1).build())
    book.submit(job("t2-next").gpus(4).tenant("t2").at(2).build())
    started = [book.job(d.job_id).name for d in scheduler.step(book, 3.0) if isinstance(d, Start)]
    assert started == ["t2-next"]


def test_fairshare_respects_weights() -> None:
    tenants = [TenantSpec(name="big", weight=4.0), TenantSpec(name="small", weight=1.0)]
    book, scheduler = book_for(
        nodes(1, gpus=8), tenants=tenants, order="fairshare", preemption="none"
    )
    book.submit(job("big-running").gpus(2).tenant("big").build())
    book.submit(job("small-running").gpus(1).tenant("small").build())
    scheduler.step(book, 0.0)
    # big holds 2/8 with weight 4 (0.0625); small holds 1/8 with weight 1 (0.125).
    book.submit(job("small-next").gpus(5).tenant("small").at(1).build())
    book.submit(job("big-next").gpus(5).tenant("big").at(2).build())
    started = [book.job(d.job_id).name for d in scheduler.step(book, 3.0) if isinstance(d, Start)]
    assert started == ["big-next"]


def test_quota_holds_with_reason_and_lets_others_pass() -> None:
    tenants = [TenantSpec(name="capped", quota={"H100": 4})]
    book, scheduler = book_for(nodes(1, gpus=8), tenants=tenants, preemption="none")
    book.submit(job("capped-a").gpus(4).tenant("capped").build())
    book.submit(job("capped-b").gpus(4).tenant("capped").at(1).build())
    book.submit(job("other").gpus(4).tenant("free").at(2).build())
    decisions = scheduler.step(book, 3.0)
    started = [book.job(d.job_id).name for d in decisions if isinstance(d, Start)]
    assert started == ["capped-a", "other"]
    held = {book.job(d.job_id).name: d.reason for d in decisions if not isinstance(d, Start)}
    assert held["capped-b"] == "quota-exceeded"


def test_vouchers_admit_only_while_hours_remain() -> None:
    tenants = [TenantSpec(name="startup", voucher_accelerator_hours=1, pay_as_you_go=False)]
    book, scheduler = book_for(nodes(1, gpus=8), tenants=tenants)
    first = job("first").gpus(1).tenant("startup").set(time_limit_s=3600.0).build()
    book.submit(first)
    scheduler.step(book, 0.0)
    book.finish(first.id, 3600.0)  # one accelerator-hour used: the voucher is spent
    book.submit(job("second").gpus(1).tenant("startup").set(time_limit_s=60.0).at(3600).build())
    decisions = scheduler.step(book, 3600.0)
    assert [d.reason for d in decisions if not isinstance(d, Start)] == ["voucher-exhausted"]
