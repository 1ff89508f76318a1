"""What the scheduler knows of each site beyond its nodes: country, prices, latency, data."""

from __future__ import annotations

from dataclasses import dataclass, field

from silkroute.model.cluster import ClusterSpec


@dataclass(frozen=True, slots=True)
class SiteInfo:
    name: str
    country: str = "CN"
    operator: str = "unknown"
    price_per_accelerator_hour: dict[str, float] = field(default_factory=dict)
    latency_ms: dict[str, float] = field(default_factory=dict)
    datasets: frozenset[str] = frozenset()


class SiteCatalog:
    def __init__(self, sites: list[SiteInfo]) -> None:
        self._by_name = {s.name: s for s in sites}

    def get(self, name: str) -> SiteInfo:
        found = self._by_name.get(name)
        return found if found is not None else SiteInfo(name)

    @classmethod
    def from_spec(cls, spec: ClusterSpec) -> SiteCatalog:
        return cls(
            [
                SiteInfo(
                    name=s.name,
                    country=s.country,
                    operator=s.operator,
                    price_per_accelerator_hour=dict(s.price_per_accelerator_hour),
                    latency_ms=dict(s.latency_ms),
                    datasets=frozenset(s.datasets),
                )
                for s in spec.sites
            ]
        )
