"""Thresholds count data subjects per tenant per calendar year: what earlier jobs sent abroad
counts for later ones, so splitting an export across jobs or datasets is no way round it; a
dataset counts once however often it runs; the scheduler keeps the count as jobs start."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pytest

from silkroute.model.workload import JobPhase
from silkroute.policy.catalog import Dataset, DatasetCatalog, Grant, TenantCompliance
from silkroute.policy.governance import Governance
from silkroute.policy.loader import load_rules
from silkroute.policy.vocabulary import DataClass, Mechanism
from silkroute.scheduler.book import SchedulerBook
from silkroute.scheduler.core import Scheduler
from silkroute.scheduler.decisions import Hold, Start
from silkroute.scheduler.policies.filter_data_law import DataLawFilter
from silkroute.scheduler.registry import make_scheduler
from silkroute.scheduler.sites import SiteCatalog, SiteInfo
from silkroute.scheduler.state import ClusterState, NodeInfo
from silkroute.scheduler.tenants import TenantBook
from tests.builders import job

ON = dt.date(2026, 6, 1)
RULES = load_rules()
CATALOG = DatasetCatalog(
    [
        Dataset("cn-a", "acme", "CN", DataClass.PERSONAL, 60_000),
        Dataset("cn-b", "acme", "CN", DataClass.PERSONAL, 60_000),
        Dataset("cn-big", "acme", "CN", DataClass.PERSONAL, 950_000),
        Dataset("cn-other-tenant", "beta", "CN", DataClass.PERSONAL, 60_000),
        Dataset("cn-public", "acme", "CN", DataClass.PUBLIC, 5_000_000),
    ]
)
CONTRACT = (
    Grant(Mechanism.SCC, origin="CN", reference="SCC filing 2026-1"),
    Grant(Mechanism.CAC_FILING, origin="CN", reference="CAC receipt 2026-1"),
)


def governance(compliance: dict[str, TenantCompliance] | None = None) -> Governance:
    return Governance(RULES, CATALOG, ON, compliance or {})


@dataclass(frozen=True)
class Count:
    name: str
    sent_before: tuple[str, ...]  # datasets acme already sent abroad this year
    job: tuple[str, ...]
    rule: str  # the rule that decides the job at singapore
    allowed: bool


COUNTS = [
    Count("a first export under 100,000 is exempt", (), ("cn-a",), "CN-2024-PI-EXEMPT", True),
    Count(
        "a second dataset that takes the year over 100,000 needs the standard contract",
        ("cn-a",),
        ("cn-b",),
        "CN-2024-PI-CONTRACT",
        False,
    ),
    Count(
        "re-running a dataset already counted is not a new export",
        ("cn-a",),
        ("cn-a",),
        "CN-2024-PI-EXEMPT",
        True,
    ),
    Count(
        "a job re-reading one counted dataset with a new one counts only the new one",
        ("cn-a",),
        ("cn-a", "cn-b"),
        "CN-2024-PI-CONTRACT",
        False,
    ),
    Count(
        "crossing 1,000,000 in the year needs the regulator's assessment",
        ("cn-a",),
        ("cn-big",),
        "CN-2024-PI-ASSESSMENT",
        False,
    ),
    Count(
        "another tenant's exports do not count toward this tenant's",
        (),
        ("cn-a",),
        "CN-2024-PI-EXEMPT",
        True,
    ),
    Count(
        "public data does not count toward personal data",
        ("cn-public",),
        ("cn-a",),
        "CN-2024-PI-EXEMPT",
        True,
    ),
]


@pytest.mark.parametrize("case", COUNTS, ids=lambda c: c.name)
def test_the_yearly_count_decides_the_threshold(case: Count) -> None:
    g = governance()
    g = g.with_exports(g.exports(("cn-other-tenant",), "singapore", "SG"))
    g = g.with_exports(g.exports(case.sent_before, "singapore", "SG"))
    decision = g.check("acme", case.job, "singapore", "SG")
    assert decision.allowed is case.allowed
    assert {v.rule for _, v in decision.verdicts} == {case.rule}


def test_a_domestic_run_and_a_second_destination_are_not_new_exports() -> None:
    g = governance()
    assert g.exports(("cn-a",), "nanning", "CN") == []
    (first,) = g.exports(("cn-a",), "singapore", "SG", job=7)
    assert (first.tenant, first.subjects, first.destination, first.year, first.job) == (
        "acme",
        60_000,
        "SG",
        2026,
        7,
    )
    after = g.with_exports([first])
    assert after.exports(("cn-a",), "bangkok", "TH") == []
    assert after.tenant("acme").exported == {("CN", DataClass.PERSONAL): 60_000}
    assert g.tenant("acme").exported == {}  # the original is unchanged


def build(
    compliance: dict[str, TenantCompliance] | None = None,
) -> tuple[SchedulerBook, DataLawFilter, Scheduler]:
    scheduler = make_scheduler(order="fifo", backfill="greedy", preemption="none")
    law = DataLawFilter(governance(compliance))
    scheduler.pool_filters = [*scheduler.pool_filters, law]
    nodes = [NodeInfo("sg-0", "singapore", "H100", 8, 64_000, 262_144)]
    sites = SiteCatalog([SiteInfo("singapore", country="SG")])
    book = SchedulerBook(ClusterState(nodes), scheduler.order, sites, TenantBook())
    return book, law, scheduler


@pytest.mark.parametrize("same_step", [True, False], ids=["in one step", "in two steps"])
def test_two_jobs_each_under_the_threshold_together_over_it(same_step: bool) -> None:
    book, law, scheduler = build()
    first = job("first").set(id=1, datasets=("cn-a",)).tenant("acme").gpus(1).build()
    second = job("second").set(id=2, datasets=("cn-b",)).tenant("acme").gpus(1).build()
    book.submit(first)
    decisions = []
    if not same_step:
        decisions += scheduler.step(book, 0.0)
    book.submit(second)
    decisions += scheduler.step(book, 1.0)
    starts = [d.job_id for d in decisions if isinstance(d, Start)]
    holds = {d.job_id: d for d in decisions if isinstance(d, Hold)}
    assert starts == [1]
    assert holds[2].reason == "data-law:CN-2024-PI-CONTRACT"
    assert "hold scc+cac_filing" in holds[2].message
    assert [e.dataset for e in law.exports] == ["cn-a"]
    assert law.governance.tenant("acme").exported == {("CN", DataClass.PERSONAL): 60_000}
    # The tenant files the standard contract: the grant arrives with the count kept.
    counted = law.governance.tenant("acme")
    with_contract = TenantCompliance(
        "acme", CONTRACT, False, counted.exported, counted.exported_datasets
    )
    law.use(law.governance.replace(compliance={"acme": with_contract}))
    started = [d for d in scheduler.step(book, 2.0) if isinstance(d, Start)]
    assert [d.job_id for d in started] == [2]
    assert book.job(2).phase is JobPhase.STARTING


def test_a_new_year_starts_the_count_again() -> None:
    g = governance()
    g = g.with_exports(g.exports(("cn-a",), "singapore", "SG"))
    assert not g.check("acme", ("cn-b",), "singapore", "SG").allowed
    # The control plane reads the count of the year it decides in: next year's is empty.
    next_year = Governance(RULES, CATALOG, dt.date(2027, 1, 1), {})
    assert next_year.check("acme", ("cn-b",), "singapore", "SG").allowed
    (export,) = next_year.exports(("cn-a",), "singapore", "SG")
    assert export.year == 2027


def test_the_count_follows_the_origins_calendar_not_utc() -> None:
    # 16:30 UTC on 31 December 2026: Beijing is in 2027, the UTC date still in 2026.
    instant = dt.datetime(2026, 12, 31, 16, 30, tzinfo=dt.UTC)
    local_days = RULES.local_days(instant)
    assert local_days["CN"] == dt.date(2027, 1, 1)
    assert local_days["MM"] == dt.date(2026, 12, 31)  # Yangon, UTC+6:30: 23:00 the day before
    g = Governance(RULES, CATALOG, instant.date(), {}, None, local_days)
    (export,) = g.exports(("cn-a",), "singapore", "SG")
    assert export.year == 2027
