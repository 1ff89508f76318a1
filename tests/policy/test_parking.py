"""Jobs whose data is lawful nowhere are parked out of the scheduling walk (as Kueue parks
inadmissible workloads) and looked at again only when rules, mechanisms, datasets or sites
change; parking never changes what starts."""

from __future__ import annotations

import datetime as dt

from silkroute.model.workload import JobPhase
from silkroute.policy.catalog import Dataset, DatasetCatalog, Grant, TenantCompliance
from silkroute.policy.governance import Governance
from silkroute.policy.loader import load_rules
from silkroute.policy.vocabulary import DataClass, Mechanism
from silkroute.scheduler.book import SchedulerBook
from silkroute.scheduler.core import Scheduler
from silkroute.scheduler.decisions import Hold, Start
from silkroute.scheduler.job import Job
from silkroute.scheduler.policies.base import Context
from silkroute.scheduler.policies.filter_data_law import DataLawFilter
from silkroute.scheduler.registry import make_scheduler
from silkroute.scheduler.sites import SiteCatalog, SiteInfo
from silkroute.scheduler.state import ClusterState, NodeInfo
from silkroute.scheduler.tenants import TenantBook
from tests.builders import job

RULES = load_rules()
CATALOG = DatasetCatalog(
    [
        Dataset("cn-core", "acme", "CN", DataClass.CORE),
        Dataset("vn-health", "acme", "VN", DataClass.PERSONAL, 20_000),
    ]
)
SG = NodeInfo("sg-0", "singapore", "H100", 8, 64_000, 262_144)


class CountingFilter(DataLawFilter):
    def __init__(self, governance: Governance, parks: bool = True) -> None:
        super().__init__(governance)
        self.parks = parks
        self.asked: list[int] = []

    def check(self, job: Job, pool: int, ctx: Context) -> tuple[str, str] | None:
        self.asked.append(job.id)
        return super().check(job, pool, ctx)


def build(parks: bool = True) -> tuple[SchedulerBook, Scheduler, CountingFilter]:
    scheduler = make_scheduler(order="fifo", backfill="easy", preemption="none")
    law = CountingFilter(Governance(RULES, CATALOG, dt.date(2026, 6, 1)), parks)
    scheduler.pool_filters = [*scheduler.pool_filters, law]
    sites = SiteCatalog([SiteInfo("singapore", country="SG"), SiteInfo("nanning", country="CN")])
    book = SchedulerBook(ClusterState([SG]), scheduler.order, sites, TenantBook())
    return book, scheduler, law


def stuck(i: int, data: str = "cn-core") -> Job:
    return job(f"stuck-{i}").set(id=i, datasets=(data,)).tenant("acme").gpus(1).build()


def test_a_job_lawful_nowhere_is_parked_and_costs_nothing_while_the_cluster_churns() -> None:
    book, scheduler, law = build()
    for i in range(3):
        book.submit(stuck(i))
    holds = scheduler.step(book, 0.0)
    assert [h.reason for h in holds if isinstance(h, Hold)] == ["data-law:CN-DSL-CORE"] * 3
    assert set(book.parked) == {0, 1, 2} and len(book.pending) == 0
    assert book.job(0).phase is JobPhase.PENDING  # parked is still pending, and explained
    assert book.holds[0].reason == "data-law:CN-DSL-CORE"
    law.asked.clear()
    for t in range(1, 20):  # lawful work comes and goes: the parked jobs are not asked about
        book.submit(job(f"ok-{t}").set(id=100 + t).at(float(t)).gpus(8).build())
        for decision in scheduler.step(book, float(t)):
            if isinstance(decision, Start):
                book.finish(decision.job_id, float(t) + 0.5)
    assert not set(law.asked) & {0, 1, 2}


def test_a_grant_unparks_the_job_and_it_starts() -> None:
    book, scheduler, law = build()
    book.submit(stuck(1, "vn-health"))
    scheduler.step(book, 0.0)
    assert set(book.parked) == {1}
    grant = Grant(Mechanism.TIA, origin="VN", reference="A05-1")
    law.use(law.governance.replace(compliance={"acme": TenantCompliance("acme", (grant,))}))
    (start,) = scheduler.step(book, 1.0)
    assert isinstance(start, Start) and start.job_id == 1 and not book.parked


def test_a_new_site_where_the_data_may_go_unparks_the_job() -> None:
    book, scheduler, _ = build()
    book.submit(stuck(1))
    scheduler.step(book, 0.0)
    assert set(book.parked) == {1}
    book.add_nodes([NodeInfo("cn-0", "nanning", "H100", 8, 64_000, 262_144)], 1.0)
    (start,) = scheduler.step(book, 1.0)
    assert isinstance(start, Start)
    assert book.cluster.pools[start.allocation.pool].site_name == "nanning"


def test_a_parked_job_can_be_cancelled_and_survives_a_snapshot() -> None:
    book, scheduler, _ = build()
    book.submit(stuck(1))
    book.submit(stuck(2))
    scheduler.step(book, 0.0)
    rebuilt = SchedulerBook.rebuild(
        ClusterState([SG]), scheduler.order, book.snapshot(), book.sites, TenantBook()
    )
    assert {j.id for j in rebuilt.pending.jobs()} == {1, 2}
    assert book.cancel(1, 1.0).phase is JobPhase.CANCELLED
    assert set(book.parked) == {2} and [j.id for j in book.jobs()] == [2]


def test_parking_changes_no_decision() -> None:
    """The same stream with and without parking: the same starts at the same times."""
    outcomes = []
    for parks in (True, False):
        book, scheduler, law = build(parks)
        starts = []
        for t in range(30):
            data = ("cn-core",) if t % 3 == 0 else ("vn-health",) if t % 3 == 1 else ()
            book.submit(job(f"j{t}").set(id=t, datasets=data).at(float(t)).gpus(4).build())
            if t == 15:
                grant = Grant(Mechanism.TIA, origin="VN")
                law.use(
                    law.governance.replace(compliance={"acme": TenantCompliance("acme", (grant,))})
                )
            for decision in scheduler.step(book, float(t)):
                if isinstance(decision, Start):
                    starts.append((t, decision.job_id))
                    book.finish(decision.job_id, float(t) + 0.9)
        outcomes.append((starts, sorted(j.id for j in book.jobs())))
    assert outcomes[0] == outcomes[1]
    assert outcomes[0][0]  # something started
