"""Sites (computing centres) and their nodes, as written in a cluster file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from silkroute.model.accelerators import catalogue
from silkroute.model.errors import SpecError, file_spec_error, read_yaml
from silkroute.model.numbers import NumbersNotBooleans

# No NaN or infinity: `cpu: .inf` was a traceback when the cluster was built, and NaN's error
# said "greater than 0".
STRICT = ConfigDict(extra="forbid", allow_inf_nan=False)
# Nodes in one group: a larger count is a typo (an extra zero), not a rack; the control plane
# also caps a whole site at as many (`control/service.py`).
MAX_NODES_PER_GROUP = 100_000
# A node's cores and memory: far above any machine built (the scheduler counts them in
# thousandths of a core and in MiB, as 64-bit integers: `cpu: 1e300` was an OverflowError
# when the cluster was built, after the site was stored).
MAX_NODE_CPUS = 100_000
MAX_NODE_MEMORY_GIB = 100_000_000  # 100 PiB
# A site's numbers per accelerator type or region, one definition for cluster files and
# `POST /v1/sites`: far above any real price or latency, far below where a ledger's sums of
# hours times prices lose their precision. (A negative price paid tenants to run there; a
# negative latency met every SLO.)
MAX_PRICE_PER_ACCELERATOR_HOUR = 1_000_000.0  # USD
MAX_LATENCY_MS = 1_000_000.0
Price = Annotated[float, Field(ge=0, le=MAX_PRICE_PER_ACCELERATOR_HOUR)]
LatencyMs = Annotated[float, Field(ge=0, le=MAX_LATENCY_MS)]


class NodeGroupSpec(NumbersNotBooleans):
    """`count` identical nodes."""

    model_config = STRICT

    count: int = Field(ge=1, le=MAX_NODES_PER_GROUP)
    accelerator: str | None = Field(default=None, description="Accelerator type; none = CPU node")
    accelerators: int = Field(default=0, ge=0, le=64, description="Accelerators per node")
    cpu: float = Field(default=64, gt=0, le=MAX_NODE_CPUS, description="CPU cores per node")
    memory_gib: float = Field(default=512, gt=0, le=MAX_NODE_MEMORY_GIB)
    name_prefix: str | None = None

    @field_validator("accelerator")
    @classmethod
    def _canonical_type(cls, value: str | None) -> str | None:
        return None if value in (None, "") else catalogue().canonical(value)

    @field_validator("accelerators")
    @classmethod
    def _typed_accelerators(cls, value: int, info: ValidationInfo) -> int:
        # Without a type they were CPU nodes: the cluster lost them, unsaid. (A type that
        # failed its own check is not in `info.data`; that error is reported instead.)
        if value and "accelerator" in info.data and info.data["accelerator"] is None:
            raise ValueError("name their type in `accelerator` (e.g. H100)")
        return value


def _canonical_prices(value: dict[str, float]) -> dict[str, float]:
    return {catalogue().canonical(k): v for k, v in value.items()}


# A site's settings besides its nodes, one definition for every way in: a site or cluster
# file, `POST /v1/sites` (a `SiteSpec`) and `PATCH /v1/sites/{site}`, which validates the
# changed declaration as a `SiteSpec` again (`control/service.py`).
Operator = Annotated[str, Field(description="Who runs the site")]
Prices = Annotated[
    dict[str, Price],
    AfterValidator(_canonical_prices),
    Field(description="Price by accelerator type (USD per accelerator-hour)"),
]
Latencies = Annotated[
    dict[str, LatencyMs],
    Field(description="Network latency to user regions (ISO country codes), in ms"),
]
DatasetNames = Annotated[list[str], Field(description="Datasets held at this site")]


class SiteSpec(NumbersNotBooleans):
    model_config = STRICT

    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    country: str = Field(pattern=r"^[A-Z]{2}$", description="ISO 3166-1 alpha-2")
    operator: Operator = "unknown"
    nodes: list[NodeGroupSpec] = Field(min_length=1)
    price_per_accelerator_hour: Prices = Field(default_factory=dict)
    latency_ms: Latencies = Field(default_factory=dict)
    datasets: DatasetNames = Field(default_factory=list)

    def accelerator_types(self) -> set[str]:
        """The types of the site's node groups."""
        return {group.accelerator for group in self.nodes if group.accelerator}


class ClusterSpec(BaseModel):
    model_config = STRICT

    name: str = "cluster"
    sites: list[SiteSpec] = Field(min_length=1)

    @field_validator("sites")
    @classmethod
    def _unique_site_names(cls, sites: list[SiteSpec]) -> list[SiteSpec]:
        names = [s.name for s in sites]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"site names must be unique; repeated: {', '.join(dupes)}")
        return sites

    def total_accelerators(self) -> dict[str, int]:
        totals: dict[str, int] = {}
        for site in self.sites:
            for group in site.nodes:
                if group.accelerator and group.accelerators:
                    key = group.accelerator
                    totals[key] = totals.get(key, 0) + group.count * group.accelerators
        return totals

    def peak_pflops(self) -> float:
        cat = catalogue()
        return (
            sum(n * (cat.get(t).bf16_tflops or 0.0) for t, n in self.total_accelerators().items())
            / 1000.0
        )


def load_cluster(path: str | Path) -> ClusterSpec:
    path = Path(path)
    raw = read_yaml(path, "cluster file")
    if not isinstance(raw, dict):
        raise SpecError(f"{path}: a cluster file is a mapping with a `sites` list")
    try:
        return ClusterSpec.model_validate(raw)
    except ValidationError as exc:
        raise file_spec_error(exc, path) from None
