"""Prometheus metrics: queue per tenant, running jobs, allocation, decisions, API latency."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from silkroute.control.loop import ControlLoop


class LoopCollector(Collector):
    """Read from the live loop at scrape time (no second copy of the numbers)."""

    def __init__(self, loop: ControlLoop) -> None:
        self.loop = loop

    def collect(self) -> Iterator[Metric]:
        scheduler = self.loop.scheduler
        queue = GaugeMetricFamily(
            "silkroute_queue_length", "Jobs waiting, per tenant", labels=["tenant"]
        )
        for tenant, count in sorted(scheduler.pending_by_tenant().items()):
            queue.add_metric([tenant], count)
        yield queue
        yield GaugeMetricFamily(
            "silkroute_running_jobs", "Jobs holding resources", value=scheduler.running_count()
        )
        allocated = GaugeMetricFamily(
            "silkroute_allocated_accelerators",
            "Accelerators in use, per site and type",
            labels=["site", "accelerator_type"],
        )
        capacity = GaugeMetricFamily(
            "silkroute_accelerators",
            "Accelerators installed, per site and type",
            labels=["site", "accelerator_type"],
        )
        for use in scheduler.usage():
            labels = [use.site, use.accelerator_type or "cpu"]
            allocated.add_metric(labels, use.allocated)
            capacity.add_metric(labels, use.capacity)
        yield allocated
        yield capacity
        decisions = CounterMetricFamily(
            "silkroute_decisions", "Scheduling decisions committed", labels=["kind"]
        )
        for kind, count in sorted(self.loop.stats.decision_counts.items()):
            decisions.add_metric([kind], count)
        yield decisions
        yield GaugeMetricFamily(
            "silkroute_last_step_seconds",
            "Wall time of the last scheduling step",
            value=self.loop.stats.last_step_s,
        )


class ApiMetrics:
    def __init__(self, loop: ControlLoop) -> None:
        self.registry = CollectorRegistry()
        self.registry.register(LoopCollector(loop))
        self.latency = Histogram(
            "silkroute_api_request_seconds",
            "API request latency",
            ["method", "route", "status"],
            registry=self.registry,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
        )
