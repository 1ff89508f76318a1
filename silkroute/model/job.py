"""The job spec: one format for YAML files, the HTTP API and simulator traces."""

from __future__ import annotations

import math
from enum import StrEnum
from pathlib import Path
from typing import Any

from pydantic import (
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from silkroute.model.accelerators import catalogue
from silkroute.model.cluster import MAX_LATENCY_MS
from silkroute.model.errors import SpecError, file_spec_error, read_yaml, spec_error
from silkroute.model.numbers import NumbersNotBooleans


class JobKind(StrEnum):
    TRAIN = "train"
    INFERENCE = "inference"
    BATCH = "batch"


# Named priority classes, as Kubernetes PriorityClasses: a larger value is served first and
# may preempt preemptible work of a smaller value.
PRIORITY_CLASSES: dict[str, int] = {
    "best-effort": 0,
    "low": 100,
    "normal": 200,
    "high": 300,
    "critical": 400,
}

# Integer priorities submitted to the platform lie within +-PRIORITY_BOUND (Kubernetes'
# ceiling for user-defined PriorityClasses): room for any ordering people need, and far
# inside every integer type the scheduler or a database uses. Checked at submit
# (`bounded_priority`), not by `JobSpec`: specs stored before the bound are read back
# through `JobSpec`.
PRIORITY_BOUND = 1_000_000_000

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._/-]*$"

# The other numbers of a submitted job that had no ceiling, bounded at submit as priorities
# are (`submit_bounds`; stored specs and traces are read as they are): a time limit or
# checkpoint interval of at most ten years (Slurm takes `--time` in minutes, a 32-bit
# number), a latency SLO within a site's latency bound, a relative throughput of at most a
# million (the scheduler multiplies and sums them).
MAX_JOB_SECONDS = 10 * 366 * 86_400
MAX_RELATIVE_THROUGHPUT = 1_000_000.0


def submit_bounds(spec: JobSpec) -> list[tuple[tuple[str | int, ...], str]]:
    """Where a submitted job passes a bound above, and the reason (empty: none)."""
    found: list[tuple[tuple[str | int, ...], str]] = []

    def most(loc: tuple[str | int, ...], value: float | None, bound: float) -> None:
        if value is not None and value > bound:
            found.append((loc, f"Input should be less than or equal to {bound:.15g}"))

    most(("time_limit_s",), spec.time_limit_s, MAX_JOB_SECONDS)
    most(("checkpoint_interval_s",), spec.checkpoint_interval_s, MAX_JOB_SECONDS)
    for region, ms in (spec.latency_slo_ms or {}).items():
        most(("latency_slo_ms", region), ms, MAX_LATENCY_MS)
    if isinstance(spec.accelerator_types, dict):
        for name, speed in spec.accelerator_types.items():
            most(("accelerator_types", name), speed, MAX_RELATIVE_THROUGHPUT)
    return found


def priority_value(priority: str | int) -> int:
    if isinstance(priority, int):
        return priority
    return PRIORITY_CLASSES[priority]


def known_priority(value: str | int) -> str | int:
    """A priority class name or an integer; ValueError names the classes."""
    if isinstance(value, str) and value not in PRIORITY_CLASSES:
        valid = ", ".join(PRIORITY_CLASSES)
        raise ValueError(f"unknown priority class {value!r}; valid: {valid}, or an integer")
    return value


def bounded_priority(value: str | int) -> str | int:
    """`known_priority`, and an integer within +-PRIORITY_BOUND."""
    if isinstance(value, int) and not -PRIORITY_BOUND <= value <= PRIORITY_BOUND:
        raise ValueError(f"an integer priority is between {-PRIORITY_BOUND} and {PRIORITY_BOUND}")
    return known_priority(value)


class JobSpec(NumbersNotBooleans):
    """What a tenant asks for. Field names are the public contract (see docs/job-spec.md)."""

    # No NaN or infinity: `NaN <= 64` is false, which pydantic would report as "less than or
    # equal to 64", naming the wrong reason.
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    name: str = Field(min_length=1, max_length=253, pattern=NAME_PATTERN)
    kind: JobKind = JobKind.TRAIN
    tenant: str = Field(min_length=1, pattern=NAME_PATTERN)
    workers: int = Field(default=1, ge=1, le=4096, description="Gang size: all start or none")
    accelerators_per_worker: float = Field(
        default=1,
        ge=0,
        le=64,
        description="0: CPU only; between 0 and 1: a share of one device; else a whole count",
    )
    accelerator_types: list[str] | dict[str, float] | None = Field(
        default=None,
        description="Acceptable types (any if absent); a mapping gives relative throughput",
    )
    cpu_per_worker: float = Field(default=1.0, ge=0, le=1024)
    memory_gib_per_worker: float = Field(default=4.0, ge=0, le=16384)
    priority: str | int = "normal"
    preemptible: bool = False
    checkpoint_interval_s: float | None = Field(default=None, gt=0)
    time_limit_s: float | None = Field(default=None, gt=0)
    datasets: list[str] = Field(default_factory=list)
    sites: list[str] | None = Field(default=None, description="Run only at these sites")
    replicas: int = Field(default=1, ge=1, le=1024)
    latency_slo_ms: dict[str, float] | None = Field(
        default=None, description="Inference: most latency allowed per user region (ISO code)"
    )
    # Execution (ignored by the simulator): what a back end runs for each worker.
    command: list[str] | str | None = Field(
        default=None,
        description="Program and arguments (a list), or a shell command line (a string)",
    )
    env: dict[str, str] = Field(default_factory=dict, description="Extra environment variables")
    max_retries: int = Field(
        default=0, ge=0, le=100, description="Restarts after the process itself fails"
    )

    @field_validator("accelerators_per_worker")
    @classmethod
    def _whole_or_share(cls, value: float) -> float:
        if value >= 1 and not float(value).is_integer():
            raise ValueError("must be a whole number when >= 1 (shares are between 0 and 1)")
        if 0 < value < 1 and not math.isclose(value * 1000, round(value * 1000)):
            raise ValueError("a share is counted in thousandths (e.g. 0.25, 0.125)")
        return value

    @field_validator("accelerator_types")
    @classmethod
    def _known_shape(
        cls, value: list[str] | dict[str, float] | None, info: ValidationInfo
    ) -> list[str] | dict[str, float] | None:
        if value is None:
            return None
        if len(value) == 0:
            raise ValueError("give at least one type, or leave the field out for any type")
        if info.data.get("accelerators_per_worker") == 0:
            raise ValueError("a CPU-only job (0 accelerators) names no types")
        cat = catalogue()
        if isinstance(value, dict):
            for key, speed in value.items():
                if speed <= 0:
                    raise ValueError(f"relative throughput of {key} must be > 0")
            return {cat.canonical(k): v for k, v in value.items()}
        return [cat.canonical(k) for k in value]

    # Checked per field (fields are validated in declaration order, so `kind` is known by
    # then): an error names `replicas`, not the whole body.
    @field_validator("replicas")
    @classmethod
    def _replicas_for_inference(cls, value: int, info: ValidationInfo) -> int:
        if value != 1 and info.data.get("kind", JobKind.TRAIN) is not JobKind.INFERENCE:
            raise ValueError("only inference jobs have replicas")
        return value

    @field_validator("latency_slo_ms")
    @classmethod
    def _slo_for_inference(
        cls, value: dict[str, float] | None, info: ValidationInfo
    ) -> dict[str, float] | None:
        if value and info.data.get("kind", JobKind.TRAIN) is not JobKind.INFERENCE:
            raise ValueError("only inference jobs have a latency SLO")
        for region, most in (value or {}).items():
            if most <= 0:  # no site could ever meet it: the job waited forever, unsaid
                raise ValueError(f"{region}: must be > 0 ms (got {most:g})")
        return value

    @field_validator("priority")
    @classmethod
    def _known_priority(cls, value: str | int) -> str | int:
        return known_priority(value)

    @property
    def priority_value(self) -> int:
        return priority_value(self.priority)


class TraceJobSpec(JobSpec):
    """A job of a simulator trace: the spec plus when it arrives and how long it runs."""

    submit_time_s: float = Field(ge=0)
    duration_s: float | dict[str, float] = Field(
        description="Run time in seconds, or per accelerator type"
    )

    @field_validator("duration_s")
    @classmethod
    def _positive_duration(cls, value: float | dict[str, float]) -> float | dict[str, float]:
        values = value.values() if isinstance(value, dict) else [value]
        if any(v <= 0 for v in values):
            raise ValueError("durations must be > 0 seconds")
        if isinstance(value, dict):
            if not value:
                raise ValueError("give at least one accelerator type")
            return {catalogue().canonical(k): v for k, v in value.items()}
        return value


def parse_job(data: Any, where: str = "") -> JobSpec:
    try:
        return JobSpec.model_validate(data)
    except ValidationError as exc:
        raise spec_error(exc, where) from None


def load_jobs(path: str | Path) -> list[JobSpec]:
    """A YAML file holding one job, a list of jobs, or `{jobs: [...]}`."""
    path = Path(path)
    raw = read_yaml(path, "job file")
    if raw is None:  # it said "a job is a mapping of fields"
        raise SpecError(f"{path}: the file is empty (see docs/job-spec.md)")
    prefix: tuple[Any, ...] = ()
    if isinstance(raw, dict) and "jobs" in raw:
        raw, prefix = raw["jobs"], ("jobs",)
    items = raw if isinstance(raw, list) else [raw]
    if not items:  # `jobs: []` validated as nothing at all, exit 0
        raise SpecError(f"{path}: no jobs in the file (see docs/job-spec.md)")
    if not all(isinstance(item, dict) for item in items):
        raise SpecError(f"{path}: a job is a mapping of fields (see docs/job-spec.md)")
    jobs = []
    for i, item in enumerate(items):
        try:
            jobs.append(JobSpec.model_validate(item))
        except ValidationError as exc:
            where = (*prefix, i) if isinstance(raw, list) else prefix
            raise file_spec_error(exc, path, where) from None
    return jobs
