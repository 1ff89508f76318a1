"""Tenants: who submits work, their share, quotas and compute vouchers."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

from silkroute.model.accelerators import catalogue

# The largest job-count cap an admin may set (a store's 32-bit ids are far below it).
MAX_JOBS_LIMIT = 100_000_000


class TenantSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    country: str = Field(default="CN", pattern=r"^[A-Z]{2}$", description="ISO 3166-1 alpha-2")
    weight: float = Field(default=1.0, gt=0, description="Fair-share weight")
    quota: dict[str, float] = Field(
        default_factory=dict,
        description="Most accelerators of each type in use at once; `*` covers every type",
    )
    voucher_accelerator_hours: float = Field(
        default=0.0, ge=0, description="Accelerator-hours granted free (incubator vouchers)"
    )
    pay_as_you_go: bool = Field(
        default=True, description="False: work is admitted only while vouchers remain"
    )
    max_running_jobs: int | None = Field(
        default=None,
        ge=0,
        le=MAX_JOBS_LIMIT,
        description=(
            "Most of its jobs started at once (each replica and each gang counts one); "
            "null: no cap. Jobs past it wait, pending, until one of its jobs ends"
        ),
    )

    @field_validator("quota")
    @classmethod
    def _canonical_quota(cls, value: dict[str, float]) -> dict[str, float]:
        out = {}
        for key, amount in value.items():
            if amount < 0:
                raise ValueError(f"quota for {key} must be >= 0")
            out[key if key == "*" else catalogue().canonical(key)] = amount
        return out
