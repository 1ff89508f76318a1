"""Attach datasets to simulated jobs: a seeded catalog of datasets from several origins, each
tenant's grants, and each job reading 0-2 of its tenant's datasets. For measuring what the
data-law filter costs (decisions per second) and what the rules cost (allocation)."""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Sequence

from silkroute.policy.catalog import Dataset, DatasetCatalog, Grant, TenantCompliance
from silkroute.policy.vocabulary import DataClass, Mechanism
from silkroute.scheduler.job import Job

# Mostly public and personal data, as a training centre sees it; a little of the rest.
CLASS_WEIGHTS = {
    DataClass.PUBLIC: 0.45,
    DataClass.PERSONAL: 0.35,
    DataClass.SENSITIVE_PERSONAL: 0.1,
    DataClass.IMPORTANT: 0.07,
    DataClass.CORE: 0.03,
}
SUBJECTS = (0, 5_000, 50_000, 250_000, 2_000_000)


def attach_datasets(
    jobs: Sequence[Job],
    origins: Sequence[str],
    seed: int = 0,
    per_tenant: int = 6,
    with_data: float = 0.6,
    grants_per_tenant: int = 3,
) -> tuple[list[Job], DatasetCatalog, dict[str, TenantCompliance]]:
    """New job copies (`with_data` of them read 1-2 datasets), the catalog and compliance."""
    rng = random.Random(seed)
    tenants = sorted({j.tenant for j in jobs})
    classes, weights = zip(*CLASS_WEIGHTS.items(), strict=True)
    datasets: list[Dataset] = []
    owned: dict[str, list[str]] = {}
    for tenant in tenants:
        for k in range(per_tenant):
            kind = rng.choices(classes, weights)[0]
            subjects = 0 if kind is DataClass.PUBLIC else rng.choice(SUBJECTS[1:])
            name = f"{tenant}/data-{k}"
            datasets.append(Dataset(name, tenant, rng.choice(origins), kind, subjects))
            owned.setdefault(tenant, []).append(name)
    mechanisms = list(Mechanism)
    compliance = {
        t: TenantCompliance(
            t,
            tuple(
                Grant(rng.choice(mechanisms), origin=rng.choice([None, *origins]))
                for _ in range(rng.randint(0, grants_per_tenant))
            ),
        )
        for t in tenants
    }
    out = []
    for job in jobs:
        names: tuple[str, ...] = ()
        if rng.random() < with_data:
            names = tuple(rng.sample(owned[job.tenant], rng.choice((1, 1, 2))))
        out.append(dataclasses.replace(job, datasets=names))
    return out, DatasetCatalog(datasets), compliance
