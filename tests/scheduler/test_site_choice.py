"""Which site and accelerator type a job lands on: price, data, latency, speed. One row each."""

from __future__ import annotations

import pytest

from silkroute.model.job import JobKind
from silkroute.scheduler.book import SchedulerBook
from silkroute.scheduler.decisions import Hold, Start
from silkroute.scheduler.registry import make_scheduler
from silkroute.scheduler.sites import SiteCatalog, SiteInfo
from silkroute.scheduler.state import ClusterState
from tests.builders import job, nodes

SITES = SiteCatalog(
    [
        SiteInfo(
            "nanning",
            "CN",
            price_per_accelerator_hour={"H100": 1.0, "Ascend910B": 0.5},
            latency_ms={"CN": 8, "SG": 55},
            datasets=frozenset({"asean-corpus"}),
        ),
        SiteInfo(
            "singapore",
            "SG",
            price_per_accelerator_hour={"H100": 3.0},
            latency_ms={"CN": 55, "SG": 2},
        ),
    ]
)
CLUSTER = (
    nodes(1, gpus=8, accel="H100", site="nanning")
    + nodes(1, gpus=8, accel="Ascend910B", site="nanning")
    + nodes(1, gpus=8, accel="H100", site="singapore")
)


def _landing(placement: str, j: object) -> str:
    scheduler = make_scheduler(placement=placement)
    book = SchedulerBook(ClusterState(CLUSTER), scheduler.order, SITES)
    book.submit(j)  # type: ignore[arg-type]
    decisions = scheduler.step(book, 0.0)
    starts = [d for d in decisions if isinstance(d, Start)]
    if not starts:
        return "held:" + next(d.reason for d in decisions if isinstance(d, Hold))
    pool = book.cluster.pools[starts[0].allocation.pool]
    return f"{pool.site_name}/{pool.accelerator}"


@pytest.mark.parametrize(
    ("name", "placement", "j", "want"),
    [
        (
            "cheapest accelerator-hour wins",
            "packing+price",
            job("a").gpus(2).build(),
            "nanning/Ascend910B",
        ),
        (
            "price is per unit of work: a faster type can be cheaper",
            "packing+price",
            job("b")
            .gpus(2)
            .set(speed={"H100": 4.0, "Ascend910B": 1.0}, accelerator_types=("H100", "Ascend910B"))
            .build(),
            "nanning/H100",
        ),
        (
            "the fastest type for the job",
            "packing+throughput",
            job("c")
            .gpus(2)
            .set(speed={"H100": 1.0, "Ascend910B": 2.0}, accelerator_types=("H100", "Ascend910B"))
            .build(),
            "nanning/Ascend910B",
        ),
        (
            "the site that holds the data",
            "packing+locality",
            job("d").gpus(8).types("H100").set(datasets=("asean-corpus",)).build(),
            "nanning/H100",
        ),
        (
            "inference goes near its users",
            "packing+latency",
            job("e")
            .gpus(1)
            .types("H100")
            .set(kind=JobKind.INFERENCE, latency_slo_ms={"SG": 20})
            .build(),
            "singapore/H100",
        ),
        (
            "no site meets the SLO: held with the reason",
            "packing",
            job("f").gpus(1).set(kind=JobKind.INFERENCE, latency_slo_ms={"MM": 1}).build(),
            "held:latency-slo",
        ),
    ],
)
def test_site_choice(name: str, placement: str, j: object, want: str) -> None:
    assert _landing(placement, j) == want
