"""Datasets and the mechanisms tenants hold, as plain in-memory values.

The control plane's store will fill these from its tables (`dataset add`, `compliance add`);
the scheduler only ever sees the loaded objects.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field

from silkroute.policy.vocabulary import DataClass, Mechanism


@dataclass(frozen=True, slots=True)
class Dataset:
    name: str
    owner: str  # tenant
    origin: str  # ISO country whose law governs the data
    data_class: DataClass
    subjects: int = 0  # data subjects in it (for thresholds)
    sites: frozenset[str] = frozenset()  # sites that hold a copy
    size_bytes: int = 0
    licence: str = ""
    tags: frozenset[str] = frozenset()


class DatasetCatalog:
    def __init__(self, datasets: Iterable[Dataset] = ()) -> None:
        self._by_name: dict[str, Dataset] = {}
        for dataset in datasets:
            if dataset.name in self._by_name:
                raise ValueError(f"dataset {dataset.name!r} is listed twice")
            self._by_name[dataset.name] = dataset

    def get(self, name: str) -> Dataset | None:
        return self._by_name.get(name)

    def __iter__(self) -> Iterator[Dataset]:
        return iter(self._by_name.values())

    def __len__(self) -> int:
        return len(self._by_name)


@dataclass(frozen=True, slots=True)
class Grant:
    """One mechanism a tenant holds: which, for transfers from where to where, until when."""

    mechanism: Mechanism
    origin: str | None = None  # None: any origin
    destinations: frozenset[str] | None = None  # None: any destination
    valid_from: dt.date = dt.date.min
    valid_until: dt.date | None = None  # last valid day
    reference: str = ""  # contract number, filing receipt, assessment decision

    def covers(self, origin: str, destination: str, on: dt.date) -> bool:
        if self.origin is not None and self.origin != origin:
            return False
        if self.destinations is not None and destination not in self.destinations:
            return False
        return self.valid_from <= on and (self.valid_until is None or on <= self.valid_until)


@dataclass(frozen=True, slots=True)
class Export:
    """One dataset a tenant sent abroad in a calendar year (its first transfer that year: a
    dataset counts once per tenant per year, however often and wherever it is sent)."""

    tenant: str
    dataset: str
    origin: str
    data_class: DataClass
    subjects: int
    destination: str  # country of the site of that first transfer
    site: str
    year: int
    job: int | None = None


@dataclass(frozen=True, slots=True)
class TenantCompliance:
    """A tenant's mechanisms, CIIO flag and data subjects already sent abroad this year.

    `exported` maps (origin, data class) to subjects transferred abroad since 1 January, from
    the datasets named in `exported_datasets`: a job's other datasets are added to it, so
    splitting one export into many jobs or datasets is no way round a threshold, and
    re-sending a dataset already counted is not a new export.
    """

    tenant: str
    grants: tuple[Grant, ...] = ()
    ciio: bool = False
    exported: Mapping[tuple[str, DataClass], int] = field(default_factory=dict)
    exported_datasets: frozenset[str] = frozenset()

    def held(self, origin: str, destination: str, on: dt.date) -> frozenset[Mechanism]:
        return frozenset(g.mechanism for g in self.grants if g.covers(origin, destination, on))

    def exported_before(self, origin: str, data_class: DataClass) -> int:
        return self.exported.get((origin, data_class), 0)

    def with_export(self, export: Export) -> TenantCompliance:
        """This tenant after `export` (no change when its dataset is already counted)."""
        if export.dataset in self.exported_datasets:
            return self
        key = (export.origin, export.data_class)
        exported = {**self.exported, key: self.exported.get(key, 0) + export.subjects}
        names = self.exported_datasets | {export.dataset}
        return TenantCompliance(self.tenant, self.grants, self.ciio, exported, names)

    def key(self) -> tuple[object, ...]:
        """Hashable identity for caches (the mapping itself is not hashable)."""
        return (
            self.tenant,
            self.grants,
            self.ciio,
            tuple(sorted(self.exported.items())),
            self.exported_datasets,
        )
