"""Tenants: who submits work, their share, quotas and compute vouchers."""

from __future__ import annotations

from typing import Annotated

from pydantic import ConfigDict, Field, field_validator

from silkroute.model.accelerators import catalogue
from silkroute.model.numbers import NumbersNotBooleans

# The bounds of a tenant's numbers, one definition for every way in: a tenants file,
# `POST /v1/tenants` (which extends `TenantSpec`) and `PATCH /v1/tenants/{name}` (whose
# fields are these types, optional). Far above any real use, far below where sums of weights
# or hours lose their precision.
MAX_WEIGHT = 1e6
MAX_ACCELERATOR_HOURS = 1e12
MAX_MONEY = 1e12  # USD: a monthly budget
Weight = Annotated[float, Field(gt=0, le=MAX_WEIGHT, description="Fair-share weight")]
VoucherHours = Annotated[
    float,
    Field(
        ge=0,
        le=MAX_ACCELERATOR_HOURS,
        description="Accelerator-hours granted free, in all (incubator vouchers)",
    ),
]
Budget = Annotated[
    float, Field(ge=0, le=MAX_MONEY, description="Most money per UTC month (USD); null: no cap")
]

# Most accelerators of one type (or of all, `*`) a quota may name: ten times the largest
# centres on earth, far below where a sum of quotas loses its precision.
MAX_QUOTA_ACCELERATORS = 10_000_000
QuotaAmount = Annotated[float, Field(ge=0, le=MAX_QUOTA_ACCELERATORS)]
Quota = dict[str, QuotaAmount]
QUOTA_DOC = "Most accelerators of each type in use at once; `*` covers every type"

# The largest job-count cap an admin may set (a store's 32-bit ids are far below it).
MAX_JOBS_LIMIT = 100_000_000
RunningCap = Annotated[
    int,
    Field(
        ge=0,
        le=MAX_JOBS_LIMIT,
        description=(
            "Most of its jobs started at once (each replica and each gang counts one); "
            "null: no cap. Jobs past it wait, pending, until one of its jobs ends"
        ),
    ),
]


class TenantSpec(NumbersNotBooleans):
    # A stored tenant is read back without validation (`TenantRow.spec`): bounds tightened
    # later never make a row unreadable.
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    country: str = Field(default="CN", pattern=r"^[A-Z]{2}$", description="ISO 3166-1 alpha-2")
    weight: Weight = 1.0
    quota: Quota = Field(default_factory=dict, description=QUOTA_DOC)
    voucher_accelerator_hours: VoucherHours = 0.0
    pay_as_you_go: bool = Field(
        default=True,
        description=(
            "False: vouchers only; a job starts only if the hours left cover its accelerators x "
            "its time_limit_s beside the tenant's running jobs (a job without one waits)"
        ),
    )
    max_running_jobs: RunningCap | None = None

    @field_validator("quota")
    @classmethod
    def _canonical_quota(cls, value: dict[str, float]) -> dict[str, float]:
        return {k if k == "*" else catalogue().canonical(k): v for k, v in value.items()}
