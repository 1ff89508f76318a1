"""Pending jobs, kept sorted by the queue order, one sorted list per tenant.

Iterating in order costs O(log tenants) per job: orders that share between tenants pick the
next tenant from a heap of tenant ranks, re-ranking a tenant only when one of its jobs starts.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Hashable, Iterator

from sortedcontainers import SortedKeyList

from silkroute.scheduler.job import Job
from silkroute.scheduler.policies.base import Context, QueueOrder


class PendingQueue:
    def __init__(self, order: QueueOrder) -> None:
        self.order = order
        self._by_tenant: dict[str, SortedKeyList] = {}
        self._all: SortedKeyList = SortedKeyList(key=order.job_key)
        self._keys: dict[int, tuple[Hashable, ...]] = {}
        self._jobs: dict[int, Job] = {}

    def __len__(self) -> int:
        return len(self._keys)

    def __contains__(self, job: Job) -> bool:
        return job.id in self._keys

    def get(self, job_id: int) -> Job | None:
        return self._jobs.get(job_id)

    def add(self, job: Job) -> None:
        if job.id in self._keys:
            raise ValueError(f"job {job.name} is already queued")
        self._keys[job.id] = self.order.job_key(job)
        self._jobs[job.id] = job
        if self.order.tenant_aware:
            bucket = self._by_tenant.get(job.tenant)
            if bucket is None:
                bucket = self._by_tenant[job.tenant] = SortedKeyList(key=self._stored_key)
            bucket.add(job)
        else:
            self._all.add(job)

    def _stored_key(self, job: Job) -> tuple[Hashable, ...]:
        return self._keys[job.id]

    def remove(self, job: Job) -> None:
        if job.id not in self._keys:
            return
        if self.order.tenant_aware:
            bucket = self._by_tenant[job.tenant]
            bucket.remove(job)
            if not bucket:
                del self._by_tenant[job.tenant]
        else:
            self._all.remove(job)
        del self._keys[job.id]
        del self._jobs[job.id]

    def jobs(self) -> list[Job]:
        if not self.order.tenant_aware:
            return list(self._all)
        return [job for bucket in self._by_tenant.values() for job in bucket]

    def in_order(self, ctx: Context, started: Callable[[Job], bool]) -> Iterator[Job]:
        """Jobs in scheduling order; `started(job)` tells whether the last one yielded started
        (and so may have moved its tenant's rank). Do not add or remove while iterating."""
        if not self.order.tenant_aware:
            yield from self._all
            return
        heap: list[tuple[float, str, Iterator[Job]]] = []
        for tenant, bucket in self._by_tenant.items():
            rank = self.order.tenant_rank(ctx.tenants.get(tenant), ctx)
            heap.append((rank, tenant, iter(bucket)))
        heapq.heapify(heap)
        while heap:
            rank, tenant, jobs = heapq.heappop(heap)
            job = next(jobs, None)
            if job is None:
                continue
            yield job
            if started(job):
                rank = self.order.tenant_rank(ctx.tenants.get(tenant), ctx)
            heapq.heappush(heap, (rank, tenant, jobs))
