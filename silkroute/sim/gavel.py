"""Loader for Gavel's job traces and measured throughputs (OSDI'20, stanford-futuredata/gavel).

A trace line has seven tab-separated columns: job type, command, the step-count argument,
whether the job needs a data directory, total steps, arrival time (s) and scale factor (the
number of accelerators the job uses at once, all of one type). The throughput file gives
steps/s per worker type, keyed by `"('JOB_TYPE', SCALE)"`, then by the co-located job
(`"null"` = running alone). A job's run time on type T is therefore
`total_steps / throughput[T][(job_type, scale)]["null"]`.

Gavel's simulator runs one accelerator per server and uses the consolidated rate of a
multi-GPU job wherever its workers sit, so the `*_unconsolidated` entries are not used.
Jobs whose (type, scale) has no throughput entry cannot be simulated faithfully; they are
skipped and counted by reason. A zero rate means the job cannot run on that type (Gavel never
schedules it there), so the type is left out of the job's accepted types.
"""

from __future__ import annotations

import ast
import json
import math
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from silkroute.model.accelerators import catalogue
from silkroute.model.errors import SpecError, field_path
from silkroute.model.job import JobKind
from silkroute.model.workload import MILLI, Demand
from silkroute.sim.truth import SimJob

TRACE_COLUMNS = (
    "job_type",
    "command",
    "num_steps_arg",
    "needs_data_dir",
    "total_steps",
    "arrival_time_s",
    "scale_factor",
)
# Gavel's three worker types, in the simulator's own order (fastest first).
GAVEL_TYPES = ("v100", "p100", "k80")
THROUGHPUTS_FILE = "simulation_throughputs.json"

Throughputs = dict[str, dict[tuple[str, int], float]]


@dataclass
class GavelSkips:
    """Jobs left out of a loaded trace, by reason (e.g. `no-throughput:v100:('A3C', 4)`)."""

    total_lines: int = 0
    by_reason: Counter[str] = field(default_factory=Counter)

    @property
    def skipped(self) -> int:
        return sum(self.by_reason.values())

    def summary(self) -> dict[str, float | str]:
        pairs = Counter[str]()
        for reason, count in self.by_reason.items():
            pairs[reason.split(":", 2)[-1]] += count
        top = ", ".join(f"{k} x{v}" for k, v in pairs.most_common(5))
        return {"trace_jobs": float(self.total_lines), "jobs_skipped": float(self.skipped)} | (
            {"skipped_pairs": top} if top else {}
        )


def load_throughputs(path: str | Path, types: tuple[str, ...] = GAVEL_TYPES) -> Throughputs:
    """`{type: {(job_type, scale): steps/s alone}}` for the given worker types."""
    path = Path(path)
    text = _read_text(path)
    try:
        raw = json.loads(text, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        raise SpecError(f"{path}:{exc.lineno}: not JSON: {exc.msg}") from None
    except RecursionError:  # the parser recurses per level of nesting
        raise SpecError(f"{path}: not JSON: nested too deeply") from None
    except ValueError as exc:  # NaN or Infinity (a rate of NaN was read as "does not run")
        raise SpecError(f"{path}: not JSON: {exc}") from None
    if not isinstance(raw, dict):
        raise SpecError(f"{path}: expected an object keyed by worker type")
    out: Throughputs = {}
    for worker_type in types:
        table = raw.get(worker_type)
        if not isinstance(table, dict):
            raise SpecError(f"{path}: no throughputs for worker type {worker_type!r}")
        rates: dict[tuple[str, int], float] = {}
        for key, entry in table.items():
            job_key = _parse_job_key(key)
            alone = entry.get("null") if isinstance(entry, dict) else None
            if job_key is None or not isinstance(alone, int | float) or isinstance(alone, bool):
                raise SpecError(f"{path}: {field_path((worker_type, key))}: expected a 'null' rate")
            if alone < 0:  # a negative rate was read as "does not run on this type"
                where = field_path((worker_type, key, "null"))
                raise SpecError(f"{path}: {where}: must be >= 0 (got {alone})")
            rates[job_key] = float(alone)
        out[worker_type] = rates
    return out


def _read_text(path: Path) -> str:
    """The file as text; unreadable or not UTF-8 is a SpecError naming it (a byte-order mark
    is dropped: it made the first job type unknown)."""
    try:
        return path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise SpecError(f"{path}: cannot read: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        line = exc.object[: exc.start].count(b"\n") + 1
        raise SpecError(f"{path}:{line}: not UTF-8 text") from None


def _no_constant(name: str) -> float:
    raise ValueError(f"{name} is not a number")


def _parse_job_key(key: str) -> tuple[str, int] | None:
    try:
        value = ast.literal_eval(key)
    except (ValueError, SyntaxError):
        return None
    if (
        isinstance(value, tuple)
        and len(value) == 2
        and isinstance(value[0], str)
        and isinstance(value[1], int)
    ):
        return value[0], value[1]
    return None


def load_gavel_trace(
    trace_path: str | Path,
    throughputs_path: str | Path | None = None,
    types: tuple[str, ...] = GAVEL_TYPES,
) -> tuple[list[SimJob], GavelSkips]:
    """Jobs of a Gavel trace with exact run times per type; skipped jobs counted by reason.

    `throughputs_path` defaults to `simulation_throughputs.json` beside the trace. Duration
    keys are the catalogue's canonical type names (`V100`, ...), as cluster files use.
    """
    trace_path = Path(trace_path)
    if throughputs_path is None:
        throughputs_path = trace_path.parent / THROUGHPUTS_FILE
    lines = _read_text(trace_path).splitlines()  # first: a missing trace is named as such
    rates = load_throughputs(throughputs_path, types)
    canonical = {t: catalogue().canonical(t) for t in types}
    skips = GavelSkips()
    jobs: list[SimJob] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        skips.total_lines += 1
        job_type, total_steps, arrival, scale = _parse_line(trace_path, number, line)
        durations: dict[str, float] = {}
        missing = next((t for t in types if (job_type, scale) not in rates[t]), None)
        if missing is not None:
            skips.by_reason[f"no-throughput:{missing}:{(job_type, scale)!r}"] += 1
            continue
        for t in types:
            rate = rates[t][(job_type, scale)]
            # A zero rate is Gavel's "does not run on this type" (e.g. out of memory).
            if rate > 0:
                durations[canonical[t]] = total_steps / rate
                if not math.isfinite(durations[canonical[t]]):
                    raise SpecError(
                        f"{trace_path.name}:{number}: field total_steps: {total_steps:g} steps "
                        f"at {rate:g} steps/s on {t} is no finite run time"
                    )
        if not durations:
            skips.by_reason[f"zero-throughput:all:{(job_type, scale)!r}"] += 1
            continue
        jobs.append(_job(len(jobs), number, job_type, scale, arrival, durations))
    if not jobs:  # an empty trace was "converted" to one that `trace validate` refuses
        why = (
            f"all {skips.total_lines} skipped for want of a throughput"
            if skips.total_lines
            else "empty"
        )
        raise SpecError(f"{trace_path}: no jobs ({why})")
    jobs.sort(key=lambda j: (j.submit_time, j.id))
    return jobs, skips


def _parse_line(path: Path, number: int, line: str) -> tuple[str, int, float, int]:
    cells = line.split("\t")
    where = f"{path.name}:{number}"
    if len(cells) != len(TRACE_COLUMNS):
        raise SpecError(
            f"{where}: expected {len(TRACE_COLUMNS)} tab-separated columns "
            f"({', '.join(TRACE_COLUMNS)}), got {len(cells)}"
        )
    job_type = cells[0].strip()
    if not job_type:
        raise SpecError(f"{where}: field job_type: empty")
    total_steps = _number(where, "total_steps", cells[4])
    arrival = _number(where, "arrival_time_s", cells[5])
    scale = _number(where, "scale_factor", cells[6])
    if total_steps <= 0 or not total_steps.is_integer():  # 1.5 steps was cut to 1
        raise SpecError(f"{where}: field total_steps: must be a whole number > 0, got {cells[4]!r}")
    if arrival < 0:
        raise SpecError(f"{where}: field arrival_time_s: must be >= 0, got {cells[5]!r}")
    if scale < 1 or scale != int(scale):
        raise SpecError(f"{where}: field scale_factor: must be a whole number >= 1")
    return job_type, int(total_steps), arrival, int(scale)


def _number(where: str, name: str, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise SpecError(f"{where}: field {name}: not a number: {text!r}") from None
    if not math.isfinite(value):  # nan and inf crashed int() (inf with a traceback)
        raise SpecError(f"{where}: field {name}: must be a finite number, got {text!r}")
    return value


def _job(
    job_id: int, line: int, job_type: str, scale: int, arrival: float, durations: dict[str, float]
) -> SimJob:
    return SimJob(
        id=job_id,
        name=f"line {line}: {job_type} x{scale}",
        tenant="default",
        kind=JobKind.TRAIN,
        workers=scale,
        # One accelerator per worker, nothing else: Gavel's servers hold one GPU each.
        demand=Demand(1, MILLI, 0, 0),
        accelerator_types=tuple(durations),
        # The measured throughput profile (Gavel's steps/s per type), relative to the
        # fastest type: what a live system knows. The run times stay simulator truth.
        speed={t: min(durations.values()) / d for t, d in durations.items()},
        priority=0,
        preemptible=True,
        checkpoint_interval_s=None,
        time_limit_s=None,
        submit_time=arrival,
        duration_s=durations,
    )
