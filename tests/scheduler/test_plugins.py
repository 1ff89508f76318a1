"""The plug-in seam: a pool filter registered by name joins the scheduler, and a held job
carries every pool's refusal with its severity (what `silkroute explain` will print)."""

from __future__ import annotations

import pytest

from silkroute.scheduler.book import SchedulerBook
from silkroute.scheduler.decisions import Hold, Refusal, Severity, Start
from silkroute.scheduler.job import Job
from silkroute.scheduler.policies.base import Context, PoolFilter
from silkroute.scheduler.registry import REGISTRY, make_scheduler
from silkroute.scheduler.state import ClusterState
from tests.builders import job, nodes


class SiteBan(PoolFilter):
    """Refuses every site but `ok` (as a data-law rule would, for data of one origin)."""

    name = "site-ban"
    severity = Severity.DENY

    def check(self, job: Job, pool: int, ctx: Context) -> tuple[str, str] | None:
        site = ctx.cluster.pools[pool].site_name
        if site == "ok":
            return None
        return ("data-law", f"data may not go to {site}")


@pytest.fixture(autouse=True)
def _registered() -> object:
    REGISTRY.register("pool-filter", "site-ban", SiteBan)
    yield
    del REGISTRY.pool_filters["site-ban"]


def _book(sites: list[str], **policy: object) -> tuple[SchedulerBook, object]:
    cluster = [n for s in sites for n in nodes(1, gpus=8, site=s)]
    scheduler = make_scheduler(**policy)  # type: ignore[arg-type]
    return SchedulerBook(ClusterState(cluster), scheduler.order), scheduler


def test_a_registered_pool_filter_is_named_in_make_scheduler() -> None:
    book, scheduler = _book(["bad", "ok"], pool_filters=["quota", "site-ban"])
    first = job("first").gpus(8).build()
    book.submit(first)
    decisions = scheduler.step(book, 0.0)  # type: ignore[attr-defined]
    assert [type(d) for d in decisions] == [Start]
    assert book.placement_of(first.id)[0][0].startswith("ok-")


def test_a_held_job_carries_every_pools_refusal_with_its_severity() -> None:
    book, scheduler = _book(["bad", "worse"], pool_filters=["site-ban"])
    held = job("held").gpus(8).build()
    book.submit(held)
    (hold,) = scheduler.step(book, 0.0)  # type: ignore[attr-defined]
    assert isinstance(hold, Hold) and hold.reason == "data-law"
    assert hold.refusals == (
        Refusal("bad", "H100", "data-law", "data may not go to bad", Severity.DENY, "site-ban"),
        Refusal("worse", "H100", "data-law", "data may not go to worse", Severity.DENY, "site-ban"),
    )
    assert book.holds[held.id] == hold  # the book keeps the latest reasons per job


def test_a_job_waiting_for_room_lists_policy_refusals_beside_full_pools() -> None:
    book, scheduler = _book(["bad", "ok"], pool_filters=["site-ban"])
    hog = job("hog").gpus(8).build()
    book.submit(hog)
    scheduler.step(book, 0.0)  # type: ignore[attr-defined]
    waiting = job("waiting").gpus(8).build()
    book.submit(waiting)
    (hold,) = scheduler.step(book, 1.0)  # type: ignore[attr-defined]
    assert isinstance(hold, Hold) and hold.reason == "insufficient-capacity"
    assert hold.refusals == (
        Refusal("bad", "H100", "data-law", "data may not go to bad", Severity.DENY, "site-ban"),
        Refusal("ok", "H100", "insufficient-capacity", hold.message, Severity.WAIT, ""),
    )


def test_unknown_names_list_the_valid_ones() -> None:
    with pytest.raises(ValueError, match="valid: latency-slo, quota, site-ban"):
        make_scheduler(pool_filters=["nope"])
    with pytest.raises(ValueError, match="already registered"):
        REGISTRY.register("pool-filter", "quota", SiteBan)
