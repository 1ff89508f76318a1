"""Every body the API reads or writes. Requests reuse the model's specs (JobSpec, SiteSpec,
TenantSpec), so a file, the CLI and HTTP accept exactly the same fields.

Compatibility: new response fields get defaults and may appear at any time (clients must
ignore fields they do not know); removing or changing the meaning of a field needs a new
path (`/v2/...`).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError

from silkroute.control.batches import MAX_BATCH_JOBS
from silkroute.control.errors import FieldProblem
from silkroute.control.limits import (
    DEFAULT_MAX_PENDING_JOBS,
    DEFAULT_MAX_PRIORITY,
    MAX_PENDING_JOBS_LIMIT,
)
from silkroute.model.cluster import DatasetNames, NodeGroupSpec, Operator, SiteSpec
from silkroute.model.job import JobSpec, bounded_priority
from silkroute.model.numbers import NumbersNotBooleans
from silkroute.model.tenant import (
    Budget,
    Quota,
    RunningCap,
    TenantSpec,
    VoucherHours,
    Weight,
)


class Problem(BaseModel):
    field: str = Field(
        description='Where, for people: `jobs[3].nodes[0].count`, `quota["A100"]`, `(body)`'
    )
    reason: str
    loc: list[str | int] = Field(
        default_factory=list,
        description="Where in the request body, a key or an index per step (as FastAPI's "
        "`loc`, without its leading `body`); empty for the body as a whole or a header",
    )

    @classmethod
    def of(cls, problem: FieldProblem) -> Problem:
        return cls(field=problem.field, reason=problem.reason, loc=list(problem.loc))


class ErrorBody(BaseModel):
    code: str = Field(description="Stable machine-readable code, e.g. `invalid`, `not_found`")
    message: str = Field(description="One line for people")
    errors: list[Problem] = Field(default_factory=list)


MAX_PRIORITY_DOC = (
    "Highest `priority` its jobs may ask for: a class name (best-effort, low, normal, high, "
    "critical) or an integer; null: no ceiling. Submits above it are refused (403)"
)
MAX_PENDING_DOC = (
    "Most jobs it may have pending (not yet started) at once; null: no cap. Submits past it "
    "are refused (429)"
)

MAX_RUNNING_DOC = (
    "Most of its jobs started at once (each replica and each gang counts one); null: no "
    "cap. Jobs past it wait, pending, with the reason `max-running-jobs`"
)


def _max_priority(value: str | int | None) -> str | int | None:
    return None if value is None else bounded_priority(value)


# Each setting's type and bounds are defined once (here and in `model.tenant`) and serve both
# `POST /v1/tenants` and `PATCH /v1/tenants/{name}`: create accepts what PATCH accepts.
MaxPriority = Annotated[
    str | int | None, AfterValidator(_max_priority), Field(description=MAX_PRIORITY_DOC)
]
PendingCap = Annotated[int, Field(ge=0, le=MAX_PENDING_JOBS_LIMIT, description=MAX_PENDING_DOC)]


class TenantCreate(TenantSpec):
    monthly_budget: Budget | None = None
    ciio: bool = Field(
        default=False,
        description="A critical-information-infrastructure operator (stricter export rules)",
    )
    max_priority: MaxPriority = DEFAULT_MAX_PRIORITY
    max_pending_jobs: PendingCap | None = DEFAULT_MAX_PENDING_JOBS


class TenantUpdate(NumbersNotBooleans):
    """`PATCH /v1/tenants/{name}`: only the fields given change (null clears a cap)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    weight: Weight | None = None
    quota: Quota | None = Field(
        default=None, description="Replaces the quota: most accelerators of each type at once"
    )
    voucher_accelerator_hours: VoucherHours | None = None
    pay_as_you_go: bool | None = None
    monthly_budget: Budget | None = None
    max_priority: MaxPriority = None
    max_pending_jobs: PendingCap | None = None
    max_running_jobs: RunningCap | None = None


class TenantOut(BaseModel):
    name: str
    country: str
    weight: float
    quota: dict[str, float]
    voucher_accelerator_hours: float
    pay_as_you_go: bool
    monthly_budget: float | None
    ciio: bool = False
    max_priority: str | int | None = Field(default=None, description=MAX_PRIORITY_DOC)
    max_pending_jobs: int | None = Field(default=None, description=MAX_PENDING_DOC)
    max_running_jobs: int | None = Field(default=None, description=MAX_RUNNING_DOC)


class TenantCreated(BaseModel):
    tenant: TenantOut
    token: str = Field(description="The tenant's API token; shown once, stored only hashed")


class TokenOut(BaseModel):
    """A token's record; the token itself is shown once, when issued, and never stored."""

    id: int
    role: str
    tenant: str | None
    label: str
    created_at: float
    revoked_at: float | None


class TokenCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Literal["admin", "operator", "tenant"] = "tenant"
    tenant: str | None = Field(default=None, max_length=64, description="For a tenant token")
    label: str = Field(default="", max_length=128)


class TokenCreated(BaseModel):
    record: TokenOut
    token: str = Field(description="Shown once, stored only hashed")


class NodeOut(BaseModel):
    site: str
    node: str
    accelerator: str | None
    accelerators: int
    state: str = Field(description="active, drained (no new work) or removed")
    engine: str = Field(
        default="", description="Why the site's engine drains or caps it (empty: it agrees)"
    )
    engine_node: str | None = Field(default=None, description="The engine's node paired with it")
    engine_accelerators: int | None = Field(
        default=None, description="Accelerators its engine reports, where fewer than declared"
    )


class NodesChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    nodes: list[str] | None = Field(
        default=None, max_length=100_000, description="Node names; absent: every node of the site"
    )


class NodesAdd(BaseModel):
    """More nodes for a registered site, as in a site file's `nodes` (the same model)."""

    model_config = ConfigDict(extra="forbid")

    nodes: list[NodeGroupSpec] = Field(
        min_length=1, max_length=10_000, description="Node groups, appended to the site's"
    )


class KeptDrainOut(BaseModel):
    node: str
    drained_by: str = Field(description="Who drained it before its removal")
    drained_at: float = Field(description="When (epoch seconds)")


class NodesChanged(BaseModel):
    nodes: list[NodeOut]
    requeued_jobs: list[int] = Field(
        default_factory=list, description="Jobs that ran on removed nodes, back in the queue"
    )
    kept_drained: list[KeptDrainOut] = Field(
        default_factory=list,
        description=(
            "A restore: nodes that come back drained, as an operator drained them before "
            "their removal (undrain them to take work)"
        ),
    )


# Fields of a site that `PATCH /v1/sites/{site}` refuses, and why (one line each).
SITE_FIELDS_FIXED = {
    "name": "cannot change: it is the site's identity (its nodes, runs, usage, agent token "
    "and audit records name it); register a new site instead",
    "country": "cannot change: the data law decides where data may go by the site's country, "
    "and the jobs placed there were judged by this one; register a new site instead",
    "nodes": "not changed by this request: nodes have their own routes (POST "
    "/v1/sites/SITE/nodes adds them; /drain, /undrain, /remove and /restore change them)",
}
PRICES_PATCH_DOC = (
    "Merged into the site's prices: each type given gets the price given (USD per "
    "accelerator-hour), null removes that type's price; types not given keep theirs"
)
LATENCY_PATCH_DOC = (
    "Merged into the site's latencies: each region given (ISO country code) gets the "
    "latency given (ms), null removes it; regions not given keep theirs"
)


class SiteUpdate(NumbersNotBooleans):
    """`PATCH /v1/sites/{site}`: a JSON merge patch (RFC 7386) of the site's settings.

    A field given replaces that field; the two maps are merged key by key (null removes a
    key), `datasets` is replaced whole. The merged declaration is checked as a `SiteSpec`,
    so the bounds are the ones a site file has."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    operator: Operator | None = None
    price_per_accelerator_hour: dict[str, float | None] | None = Field(
        default=None, description=PRICES_PATCH_DOC
    )
    latency_ms: dict[str, float | None] | None = Field(default=None, description=LATENCY_PATCH_DOC)
    datasets: DatasetNames | None = Field(
        default=None, description="Replaces the list of datasets held at the site"
    )

    @model_validator(mode="before")
    @classmethod
    def _fixed_fields(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        settings = ", ".join(cls.model_fields)
        problems = [
            InitErrorDetails(
                type=PydanticCustomError("not_changeable", reason),
                loc=(key,),
                input=value,
            )
            for key, value in data.items()
            if key not in cls.model_fields
            and (reason := SITE_FIELDS_FIXED.get(key, f"not a site setting; one of {settings}"))
        ]
        if problems:
            raise ValidationError.from_exception_data(cls.__name__, problems)
        return data


class SiteCopyOut(BaseModel):
    dataset: str
    recorded_by: list[Literal["site", "dataset"]] = Field(
        description="Which record says the copy is here: the site's own declaration "
        "(`spec.datasets`) and/or the dataset's registration (its `sites`)"
    )


class SiteOut(BaseModel):
    name: str
    country: str
    spec: SiteSpec = Field(
        description="The site's declaration as stored (`datasets`: what the site itself "
        "declares; a tenant is not shown names of datasets another tenant registered)"
    )
    datasets: list[str] = Field(
        default_factory=list,
        description="Every dataset with a copy here, whichever record says so (retired ones "
        "never; a tenant sees only its own registered datasets), as `GET /v1/datasets` "
        "shows each dataset's `sites`",
    )
    copies: list[SiteCopyOut] = Field(
        default_factory=list, description="The same copies, each with the record(s) saying so"
    )


class JobOut(BaseModel):
    id: int
    tenant: str
    name: str
    state: str = Field(description="pending, starting, running, terminating, succeeded, ...")
    submitted_at: float
    started_at: float | None
    ended_at: float | None
    site: str | None
    accelerator_type: str | None
    attempts: int
    hold_reason: str | None
    hold_message: str | None
    cancel_requested: bool
    exit_code: int | None
    message: str
    spec: JobSpec
    replica_ids: list[int] = Field(
        default_factory=list,
        description="At submit, an inference job with replicas > 1: every replica's job id",
    )


# `POST /v1/jobs:batch`'s body, as OpenAPI describes it (read by `submits.prepare_batch`, so
# YAML is taken too and every problem names `jobs[i]`).
JOB_BATCH_SCHEMA = {
    "type": "object",
    "required": ["jobs"],
    "additionalProperties": False,
    "properties": {
        "jobs": {
            "type": "array",
            "items": {"$ref": "#/components/schemas/JobSpec"},
            "minItems": 1,
            "maxItems": MAX_BATCH_JOBS,
            "description": "One tenant's jobs, each as `POST /v1/jobs` takes one; at most "
            f"{MAX_BATCH_JOBS} stored jobs (inference replicas counted)",
        }
    },
}


class BatchSubmitted(BaseModel):
    jobs: list[JobOut] = Field(description="Every job of the batch, in the order given")


class JobEventOut(BaseModel):
    at: float
    state: str
    reason: str
    message: str
    site: str | None


class RunOut(BaseModel):
    run_id: str
    attempt: int
    site: str
    accelerator_type: str | None
    accelerators: float
    state: str
    started_at: float | None
    ended_at: float | None
    outcome: str | None
    exit_code: int | None
    nodes: list[str] = Field(default_factory=list, description="Each rank's node, in rank order")


class JobDetailOut(JobOut):
    events: list[JobEventOut]
    runs: list[RunOut]
    reasons_by_site: dict[str, str] = Field(
        description="While pending: for each site, why the job is not running there now"
    )


class JobPageOut(BaseModel):
    jobs: list[JobOut]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page")


class LogOut(BaseModel):
    text: str
    offset: int = Field(description="Pass as `offset` to read on from here")
    finished: bool


class UsageRow(BaseModel):
    tenant: str
    site: str
    accelerator_type: str | None
    jobs: int
    accelerator_hours: float
    voucher_hours: float
    paid_hours: float
    cost: float


class TenantBalance(BaseModel):
    tenant: str
    accelerator_hours: float
    voucher_hours: float
    paid_hours: float
    cost: float
    voucher_hours_left: float
    monthly_budget: float | None
    month_spend: float


class UsageOut(BaseModel):
    rows: list[UsageRow] = Field(description="Per tenant, site and accelerator type")
    tenants: list[TenantBalance]
    jobs: dict[int, float] = Field(description="Cost per job id")


class Health(BaseModel):
    status: str
    jobs: dict[str, int]
