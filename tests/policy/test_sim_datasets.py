"""Simulated jobs get seeded datasets of their own tenant, and grants per tenant."""

from __future__ import annotations

from silkroute.sim.datasets import attach_datasets
from tests.builders import job


def test_attach_is_seeded_and_uses_the_tenants_own_data() -> None:
    jobs = [job(f"j{i}").set(id=i).tenant(f"t{i % 3}").build() for i in range(200)]
    first = attach_datasets(jobs, ["CN", "VN", "SG"], seed=4)
    again = attach_datasets(jobs, ["CN", "VN", "SG"], seed=4)
    other = attach_datasets(jobs, ["CN", "VN", "SG"], seed=5)
    assert [j.datasets for j in first[0]] == [j.datasets for j in again[0]]
    assert [j.datasets for j in first[0]] != [j.datasets for j in other[0]]
    jobs_out, catalog, compliance = first
    assert set(compliance) == {"t0", "t1", "t2"}
    with_data = [j for j in jobs_out if j.datasets]
    assert 0.4 < len(with_data) / len(jobs_out) < 0.8
    for j in with_data:
        for name in j.datasets:
            dataset = catalog.get(name)
            assert dataset is not None and dataset.owner == j.tenant
            assert dataset.origin in {"CN", "VN", "SG"}
    assert all(not j.datasets for j in jobs)  # the originals are untouched
