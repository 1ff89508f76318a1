"""A tenant's usage, the figure its vouchers are drawn on: counted by the book's own clock (the
simulator), or only as its driver bills each ended run (`TenantBook(billed_by_driver=True)`,
the live platform, whose ledger alone knows when a run really started and ended)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest

from silkroute.model.tenant import TenantSpec
from silkroute.scheduler.book import SchedulerBook
from silkroute.scheduler.core import Scheduler
from silkroute.scheduler.decisions import Hold, Start
from silkroute.scheduler.registry import make_scheduler
from silkroute.scheduler.sites import SiteCatalog
from silkroute.scheduler.state import ClusterState
from silkroute.scheduler.tenants import StoppingRun, TenantBook
from tests.builders import job, nodes

ACME = TenantSpec(name="acme", voucher_accelerator_hours=0.01, pay_as_you_go=False)  # 36 s


def live_book(billed_by_driver: bool) -> tuple[SchedulerBook, Scheduler]:
    scheduler = make_scheduler()
    tenants = TenantBook([ACME], billed_by_driver=billed_by_driver)
    book = SchedulerBook(ClusterState(nodes(2, gpus=8)), scheduler.order, SiteCatalog([]), tenants)
    book.graceful_stop = True
    return book, scheduler


def started(book: SchedulerBook, scheduler: Scheduler, gpus: int = 1) -> int:
    """A job of acme placed at t=0 (`gpus` accelerators, for a time limit its 36 voucher
    seconds just cover); its id."""
    limit = 36.0 / gpus
    record = job("run").tenant("acme").gpus(gpus).set(preemptible=True, time_limit_s=limit).build()
    book.submit(record)
    decisions = scheduler.step(book, 0.0)
    assert [d.job_id for d in decisions if isinstance(d, Start)] == [record.id]
    return record.id


def finishes(book: SchedulerBook, scheduler: Scheduler) -> None:
    book.finish(started(book, scheduler), 10.0)


def is_preempted_then_gone(book: SchedulerBook, scheduler: Scheduler) -> None:
    job_id = started(book, scheduler)
    book.preempt(book.running[job_id], 10.0, checkpoint_now=True)
    book.stopped(job_id, 15.0)  # its grace: 5 s the book's clock does not see


def is_cancelled_then_gone(book: SchedulerBook, scheduler: Scheduler) -> None:
    job_id = started(book, scheduler)
    book.cancel(job_id, 10.0)
    book.stopped(job_id, 15.0)


def fails_to_start(book: SchedulerBook, scheduler: Scheduler) -> None:
    book.start_failed(started(book, scheduler), 10.0)


def loses_its_node(book: SchedulerBook, scheduler: Scheduler) -> None:
    job_id = started(book, scheduler)
    book.remove_nodes([book.placement_of(job_id)[0][0]], 10.0)


def stops_outside_the_book(book: SchedulerBook, scheduler: Scheduler) -> None:
    book.tenants.hold_stopping(StoppingRun(7, "acme", "H100", 1.0, 0, since=10.0))
    book.tenants.release_stopping(7, started_at=0.0, ended_at=15.0)


@dataclass(frozen=True)
class EndPath:
    name: str
    play: Callable[[SchedulerBook, Scheduler], None]
    own_clock_s: float  # what the book counts by its own clock (one accelerator)


END_PATHS = [
    EndPath("a run that finishes", finishes, 10.0),
    EndPath("a preempted run, once gone", is_preempted_then_gone, 10.0),
    EndPath("a cancelled run, once gone", is_cancelled_then_gone, 10.0),
    EndPath("a start that failed", fails_to_start, 10.0),
    EndPath("a run whose node was removed", loses_its_node, 10.0),
    EndPath("a run stopping outside the book, once gone", stops_outside_the_book, 5.0),
]


@pytest.mark.parametrize("path", END_PATHS, ids=lambda p: p.name)
def test_on_its_own_clock_the_book_counts_each_run_from_its_start_to_its_stop(
    path: EndPath,
) -> None:
    book, scheduler = live_book(billed_by_driver=False)
    path.play(book, scheduler)
    assert book.tenants.get("acme").consumed_gpu_s == pytest.approx(path.own_clock_s)


@pytest.mark.parametrize("path", END_PATHS, ids=lambda p: p.name)
def test_billed_by_its_driver_the_book_counts_what_the_driver_bills_and_nothing_else(
    path: EndPath,
) -> None:
    book, scheduler = live_book(billed_by_driver=True)
    path.play(book, scheduler)
    account = book.tenants.get("acme")
    assert account.consumed_gpu_s == 0.0
    version = account.version
    book.tenants.bill("acme", 12.5)  # what the ledger charged: its engine's start to its end
    assert account.consumed_gpu_s == 12.5
    assert account.version > version  # its held jobs are looked at again


@pytest.mark.parametrize("billed_by_driver", [True, False], ids=["billed", "own clock"])
def test_a_vouchers_only_tenant_is_held_once_the_ledger_has_billed_its_vouchers_away(
    billed_by_driver: bool,
) -> None:
    book, scheduler = live_book(billed_by_driver)
    first = started(book, scheduler, gpus=8)
    book.preempt(book.running[first], 4.0, checkpoint_now=True)  # the book's clock: 32 s
    book.stopped(first, 9.0)  # after a grace of 5 s
    if billed_by_driver:
        book.tenants.bill("acme", 8 * 9.0)  # the ledger: 72 s of the 36 granted
    decisions = scheduler.step(book, 10.0)
    if billed_by_driver:
        held = [(d.job_id, d.reason) for d in decisions if isinstance(d, Hold)]
        assert held == [(first, "voucher-exhausted")]
    else:  # by its own clock 4 s of the vouchers are left: not enough for its time limit
        held = [(d.job_id, d.reason) for d in decisions if isinstance(d, Hold)]
        assert held == [(first, "voucher-insufficient")]
