"""One-line builders for jobs and clusters in tests: `job("a").gpus(4).tenant("t1").build()`."""

from __future__ import annotations

import dataclasses
import itertools
from typing import Any

from silkroute.model.job import JobKind
from silkroute.model.tenant import TenantSpec
from silkroute.model.workload import MILLI, Demand, JobRequest
from silkroute.scheduler.book import SchedulerBook
from silkroute.scheduler.core import Scheduler
from silkroute.scheduler.registry import make_scheduler
from silkroute.scheduler.sites import SiteCatalog
from silkroute.scheduler.state import ClusterState, NodeInfo
from silkroute.scheduler.tenants import TenantBook
from silkroute.sim.truth import SimJob

_ids = itertools.count(1)


class JobBuilder:
    def __init__(self, name: str) -> None:
        self._fields: dict[str, Any] = dict(
            id=next(_ids),
            name=name,
            tenant="t1",
            kind=JobKind.TRAIN,
            workers=1,
            demand=Demand(1, 1000, 1000, 1024),
            accelerator_types=None,
            speed=None,
            priority=200,
            preemptible=False,
            checkpoint_interval_s=None,
            time_limit_s=None,
            submit_time=0.0,
            duration_s={"*": 100.0},
        )

    def gpus(self, per_worker: float) -> JobBuilder:
        d = self._fields["demand"]
        self._fields["demand"] = Demand.of(per_worker, d.cpu_milli / 1000, d.mem_mib / 1024)
        return self

    def cpu(self, cores: float) -> JobBuilder:
        d = self._fields["demand"]
        self._fields["demand"] = dataclasses.replace(d, cpu_milli=round(cores * 1000))
        return self

    def set(self, **fields: Any) -> JobBuilder:
        self._fields.update(fields)
        return self

    def workers(self, n: int) -> JobBuilder:
        return self.set(workers=n)

    def tenant(self, name: str) -> JobBuilder:
        return self.set(tenant=name)

    def priority(self, value: int) -> JobBuilder:
        return self.set(priority=value)

    def at(self, submit: float) -> JobBuilder:
        return self.set(submit_time=submit)

    def runs(self, seconds: float, limit: float | None = None) -> JobBuilder:
        return self.set(duration_s={"*": seconds}, time_limit_s=limit)

    def types(self, *names: str) -> JobBuilder:
        return self.set(accelerator_types=names)

    def gavel(
        self, speed: dict[str, float], durations: dict[str, float] | None = None
    ) -> JobBuilder:
        """A Gavel-style job: one whole accelerator per worker, preemptible, speed per type."""
        return self.set(
            tenant="default",
            demand=Demand(1, MILLI, 0, 0),
            accelerator_types=tuple(speed),
            speed=speed,
            priority=0,
            preemptible=True,
            duration_s=durations if durations is not None else {"*": 100.0},
        )

    def build(self) -> SimJob:
        return SimJob(**self._fields)

    def request(self) -> JobRequest:
        """What the scheduler sees: the job without its true run time."""
        return self.build().request()


def job(name: str) -> JobBuilder:
    return JobBuilder(name)


def nodes(
    count: int, gpus: int = 8, accel: str | None = "H100", site: str = "s1", cpu: int = 64
) -> list[NodeInfo]:
    return [
        NodeInfo(f"{site}-{accel}-{i}", site, accel if gpus else None, gpus, cpu * 1000, 512 * 1024)
        for i in range(count)
    ]


def book_for(
    node_list: list[NodeInfo], tenants: list[TenantSpec] | None = None, **scheduler_args: Any
) -> tuple[SchedulerBook, Scheduler]:
    scheduler = make_scheduler(**scheduler_args)
    book = SchedulerBook(
        ClusterState(node_list), scheduler.order, SiteCatalog([]), TenantBook(tenants)
    )
    return book, scheduler
