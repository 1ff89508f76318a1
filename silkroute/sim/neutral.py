"""silkroute's neutral trace format: JSON Lines, one job spec per line plus its timing.

Each line is a `TraceJobSpec`: the fields of a job spec (docs/job-spec.md) plus `submit_time_s`
and `duration_s` (seconds, or a mapping accelerator type -> seconds). Blank lines and lines
starting with `#` are skipped. See docs/trace-format.md and docs/trace.schema.json.

Accelerator types go through the catalogue's aliases. A name that is not in the catalogue (a
trace's own code, e.g. openb's G2) is accepted only where a cluster is given that has nodes of
that type; with a cluster, every job must accept at least one type some node of it has.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from pydantic import ValidationError

from silkroute.model.accelerators import catalogue
from silkroute.model.cluster import ClusterSpec, NodeGroupSpec, SiteSpec
from silkroute.model.errors import SpecError, describe_validation_error
from silkroute.model.job import PRIORITY_CLASSES, TraceJobSpec
from silkroute.model.workload import MILLI
from silkroute.sim.truth import SimJob, job_from_trace, replicas_of

if TYPE_CHECKING:
    from silkroute.scheduler.state import NodeInfo

FORMAT_DOC = "docs/trace-format.md"
SCHEMA_ID = "https://github.com/silkroute/silkroute/blob/main/docs/trace.schema.json"
MAX_ERRORS = 20  # errors shown before giving up on a bad file
ANY_TYPE = "*"  # key of Job.duration_s when one run time holds on every type
_FIRST_KEYS = ("name", "tenant", "submit_time_s", "duration_s")
_CLASS_OF_VALUE = {value: name for name, value in PRIORITY_CLASSES.items()}


# ----- reading -----------------------------------------------------------------------------


def _reject_constant(name: str) -> float:
    raise ValueError(f"{name} is not a number")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """An object whose keys are all different: of a key given twice the last silently won."""
    data = dict(pairs)
    if len(data) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise ValueError(f"the key {key!r} is given twice")
            seen.add(key)
    return data


@dataclass
class _Errors:
    path: Path
    lines: list[str] = field(default_factory=list)
    count: int = 0

    def add(self, line: int, message: str) -> None:
        self.count += 1
        if len(self.lines) < MAX_ERRORS:
            self.lines.append(f"{self.path}: line {line}: {message}")

    def raise_if_any(self) -> None:
        if not self.count:
            return
        more = self.count - len(self.lines)
        tail = [f"{self.path}: ... and {more} more errors"] if more > 0 else []
        raise SpecError("\n".join(self.lines + tail))


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    """(line number, text) of each line, decoded one at a time (big files stream)."""
    try:
        handle = path.open("rb")
    except IsADirectoryError:
        raise SpecError(f"{path}: is a folder, not a JSONL trace file") from None
    except OSError as exc:
        raise SpecError(f"{path}: cannot read trace: {exc.strerror}") from None
    with handle:
        for number, raw in enumerate(handle, start=1):
            try:
                text = raw.decode("utf-8-sig" if number == 1 else "utf-8")
            except UnicodeDecodeError:
                raise SpecError(
                    f"{path}: line {number}: not UTF-8 text; not a JSONL trace "
                    f"(one JSON object per line, see {FORMAT_DOC})"
                ) from None
            yield number, text


def _accepted_types(spec: TraceJobSpec) -> list[str] | None:
    """The types the job can run on: its `accelerator_types`, else its per-type run times."""
    if spec.accelerators_per_worker == 0:
        return None
    if spec.accelerator_types:
        return list(spec.accelerator_types)
    if isinstance(spec.duration_s, dict):
        return list(spec.duration_s)
    return None


def _check_types(
    spec: TraceJobSpec, known: Callable[[str], bool], cluster: ClusterSpec | None
) -> list[str]:
    """Problems with the job's accelerator types and sites, as `field: reason`."""
    problems: list[str] = []
    durations = spec.duration_s if isinstance(spec.duration_s, dict) else None
    if durations is not None and spec.accelerators_per_worker == 0:
        problems.append("duration_s: a CPU-only job has one run time in seconds, not one per type")
        return problems
    if durations is not None and ANY_TYPE in durations:
        problems.append(f"duration_s: {ANY_TYPE!r} is not a type; give one number for any type")
        return problems
    for name, types in (("accelerator_types", spec.accelerator_types), ("duration_s", durations)):
        unknown = [t for t in types or () if not known(t)]
        if unknown:
            where = "the catalogue nor a node type of the cluster" if cluster else "the catalogue"
            hint = "" if cluster else "; give a cluster with nodes of it to allow a trace's codes"
            problems.append(
                f"{name}: unknown accelerator type {', '.join(map(repr, unknown))} "
                f"(not in {where}{hint})"
            )
    if problems:
        return problems
    if durations is not None and spec.accelerator_types:
        missing = [t for t in spec.accelerator_types if t not in durations]
        if missing:
            problems.append(
                f"duration_s: no run time for {', '.join(missing)}, which accelerator_types accepts"
            )
    if cluster is not None:
        have = set(cluster.total_accelerators())
        accepted = _accepted_types(spec)
        if accepted is not None and not have.intersection(accepted):
            name = "accelerator_types" if spec.accelerator_types else "duration_s"
            problems.append(
                f"{name}: no node of cluster {cluster.name!r} has any of {', '.join(accepted)} "
                f"(it has: {', '.join(sorted(have)) or 'no accelerators'})"
            )
        site_names = {s.name for s in cluster.sites}
        absent = [s for s in spec.sites or () if s not in site_names]
        if absent:
            problems.append(
                f"sites: no site {', '.join(map(repr, absent))} in cluster {cluster.name!r} "
                f"(it has: {', '.join(sorted(site_names))})"
            )
    return problems


def iter_trace(
    path: str | Path, cluster: ClusterSpec | None = None
) -> Iterator[tuple[int, TraceJobSpec]]:
    """(line number, spec) of each job, checked; raises SpecError naming line and field.

    Errors are collected (the first MAX_ERRORS shown) and raised when the file ends, so good
    jobs are yielded before a later bad line is reported: consume the whole iterator.
    """
    path = Path(path)
    cat = catalogue()
    cluster_types = set(cluster.total_accelerators()) if cluster else set()

    def known(name: str) -> bool:
        return cat.get(name).known or name in cluster_types

    errors = _Errors(path)
    names: dict[str, int] = {}
    first = True
    for number, text in _lines(path):
        stripped = text.strip()
        if not stripped or stripped.startswith("#"):
            continue
        try:
            data: Any = json.loads(
                stripped, parse_constant=_reject_constant, object_pairs_hook=_unique_keys
            )
        except RecursionError:  # the parser recurses per level of nesting
            raise SpecError(f"{path}: line {number}: not valid JSON: nested too deeply") from None
        except ValueError as exc:
            # NaN or a 5,000-digit number is JSON-shaped: named as it is, not "not a trace".
            if first and isinstance(exc, json.JSONDecodeError):
                raise SpecError(
                    f"{path}: line {number}: not a JSONL trace: the line is not JSON "
                    f"(one JSON object per line, see {FORMAT_DOC})"
                ) from None
            reason = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc)
            column = f" (column {exc.colno})" if isinstance(exc, json.JSONDecodeError) else ""
            errors.add(number, f"not valid JSON: {reason}{column}")
            continue
        if not isinstance(data, dict):
            kind = type(data).__name__
            if first:
                raise SpecError(
                    f"{path}: line {number}: not a JSONL trace: a line is one JSON object "
                    f"(a job), got a {kind} (see {FORMAT_DOC})"
                )
            errors.add(number, f"(root): a line is one JSON object (a job), got a {kind}")
            continue
        first = False
        try:
            spec = TraceJobSpec.model_validate(data)
        except ValidationError as exc:
            for problem in describe_validation_error(exc).splitlines():
                errors.add(number, problem)
            continue
        problems = _check_types(spec, known, cluster)
        if spec.name in names:
            problems.append(f"name: {spec.name!r} is already the name of line {names[spec.name]}")
        else:
            names[spec.name] = number
        for problem in problems:
            errors.add(number, problem)
        if not problems and not errors.count:
            yield number, spec
    errors.raise_if_any()
    if first:
        raise SpecError(f"{path}: no jobs: an empty trace (one JSON object per line, {FORMAT_DOC})")


def read_trace(path: str | Path, cluster: ClusterSpec | None = None) -> list[TraceJobSpec]:
    return [spec for _, spec in iter_trace(path, cluster)]


def job_of(spec: TraceJobSpec, job_id: int) -> SimJob:
    """The runtime job of a trace line. Per-type run times limit the job to those types."""
    job = job_from_trace(spec, job_id)
    if job.accelerator_types is None and job.demand.gpu_slots and isinstance(spec.duration_s, dict):
        job.accelerator_types = tuple(spec.duration_s)
    return job


def load_neutral_trace(path: str | Path, cluster: ClusterSpec | None = None) -> list[SimJob]:
    """Jobs of a neutral JSONL trace, ids in line order. With `cluster`, each job must be able
    to run on it (its types and sites exist there); the cluster's node types may be codes that
    are not in the accelerator catalogue."""
    jobs: list[SimJob] = []
    for _, spec in iter_trace(path, cluster):
        jobs.extend(replicas_of(job_of(spec, len(jobs)), spec.replicas, len(jobs)))
    return jobs


@dataclass
class TraceSummary:
    jobs: int = 0
    first_submit_s: float = math.inf
    last_submit_s: float = -math.inf
    tenants: set[str] = field(default_factory=set)
    types: Counter[str] = field(default_factory=Counter)
    gpu_hours: float = 0.0  # on the fastest acceptable type

    @property
    def span_s(self) -> float:
        return self.last_submit_s - self.first_submit_s if self.jobs else 0.0


def summarise(path: str | Path, cluster: ClusterSpec | None = None) -> TraceSummary:
    summary = TraceSummary()
    for _, spec in iter_trace(path, cluster):
        summary.jobs += 1
        summary.first_submit_s = min(summary.first_submit_s, spec.submit_time_s)
        summary.last_submit_s = max(summary.last_submit_s, spec.submit_time_s)
        summary.tenants.add(spec.tenant)
        accepted = _accepted_types(spec)
        if spec.accelerators_per_worker == 0:
            summary.types["cpu-only"] += 1
        else:
            summary.types.update(sorted(set(accepted)) if accepted else ["any"])
        duration = spec.duration_s
        seconds = min(duration.values()) if isinstance(duration, dict) else duration
        summary.gpu_hours += seconds * spec.workers * spec.accelerators_per_worker / 3600
    return summary


# ----- writing -----------------------------------------------------------------------------


def spec_of_job(job: SimJob) -> TraceJobSpec:
    """The trace line of a runtime job (as loaders build them). Raises SpecError if the job
    has no run time or does not fit the format."""
    demand = job.demand
    if demand.gpu_slots == 0:
        accelerators: float = 0
    elif demand.gpu_slots == 1 and demand.gpu_milli < MILLI:
        accelerators = demand.gpu_milli / MILLI
    else:
        accelerators = demand.gpu_slots
    types: list[str] | dict[str, float] | None
    if job.speed is not None:
        types = dict(job.speed)
    else:
        types = list(job.accelerator_types) if job.accelerator_types else None
    durations = job.duration_s or {}
    if not durations:
        raise SpecError(f"job {job.name!r}: no run time (duration_s); it cannot go in a trace")
    duration: float | dict[str, float]
    if ANY_TYPE in durations:
        if len(durations) > 1:
            raise SpecError(f"job {job.name!r}: run times both for any type and per type")
        duration = durations[ANY_TYPE]
    else:
        duration = dict(durations)
    data: dict[str, Any] = {
        "name": job.name,
        "kind": job.kind,
        "tenant": job.tenant,
        "workers": job.workers,
        "accelerators_per_worker": accelerators,
        "accelerator_types": types,
        "cpu_per_worker": demand.cpu_milli / 1000,
        "memory_gib_per_worker": demand.mem_mib / 1024,
        "priority": _CLASS_OF_VALUE.get(job.priority, job.priority),
        "preemptible": job.preemptible,
        "checkpoint_interval_s": job.checkpoint_interval_s,
        "time_limit_s": job.time_limit_s,
        "datasets": list(job.datasets),
        "sites": list(job.sites) if job.sites else None,
        "latency_slo_ms": job.latency_slo_ms,
        "submit_time_s": job.submit_time,
        "duration_s": duration,
    }
    try:
        return TraceJobSpec.model_validate(data)
    except ValidationError as exc:
        raise SpecError(describe_validation_error(exc, f"job {job.name!r}")) from None


def _compact(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    if isinstance(value, dict):
        return {k: _compact(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_compact(v) for v in value]
    return value


def trace_line(spec: TraceJobSpec) -> str:
    """One JSON line, fields at their defaults left out, name and timing first."""
    data = spec.model_dump(mode="json", exclude_defaults=True)
    ordered = {k: data.pop(k) for k in _FIRST_KEYS if k in data}
    ordered.update(data)
    return json.dumps(_compact(ordered), ensure_ascii=False, separators=(", ", ": "))


def write_neutral_trace(
    path: str | Path,
    jobs: Iterable[SimJob | TraceJobSpec],
    header: str | None = None,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Write jobs (runtime jobs or trace specs) as a JSONL trace; returns the count written.

    Written beside `path` and renamed when complete: a job that does not fit the format
    left half a trace there, in place of the file that was there before."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    count = 0
    try:
        with partial.open("w", encoding="utf-8") as out:
            for line in (header or "").splitlines():
                out.write(f"# {line}\n" if line else "#\n")
            for job in jobs:
                spec = job if isinstance(job, TraceJobSpec) else spec_of_job(job)
                out.write(trace_line(spec) + "\n")
                count += 1
                if progress is not None and count % 1000 == 0:
                    progress(1000)
        partial.replace(path)
    finally:
        partial.unlink(missing_ok=True)
    if progress is not None:
        progress(count % 1000)
    return count


# ----- schema and clusters -------------------------------------------------------------------


def trace_schema() -> dict[str, Any]:
    """JSON Schema of one trace line (committed as docs/trace.schema.json)."""
    schema = TraceJobSpec.model_json_schema()
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        **schema,
        "title": "silkroute trace job",
        "description": (
            "One line of a silkroute neutral trace (JSON Lines): a job spec plus when it "
            "arrives (submit_time_s) and how long it runs (duration_s). See docs/trace-format.md."
        ),
    }


def schema_text() -> str:
    return json.dumps(trace_schema(), indent=2, ensure_ascii=False) + "\n"


def cluster_from_nodes(
    nodes: Iterable[NodeInfo], name: str, country: str = "CN", operator: str = "unknown"
) -> ClusterSpec:
    """A cluster file's spec from a node list: identical nodes of a site become one group."""
    sites: dict[str, Counter[tuple[str | None, int, float, float]]] = {}
    for node in nodes:
        key = (
            node.accelerator if node.accelerators else None,
            node.accelerators,
            node.cpu_milli / 1000,
            node.mem_mib / 1024,
        )
        sites.setdefault(node.site, Counter())[key] += 1
    try:
        return _cluster_spec(name, sites, country, operator)
    except ValidationError as exc:  # a node no cluster file can hold (0 CPUs, 100 GPUs)
        raise SpecError(describe_validation_error(exc, f"cluster {name!r} of the nodes")) from None


def _cluster_spec(
    name: str,
    sites: dict[str, Counter[tuple[str | None, int, float, float]]],
    country: str,
    operator: str,
) -> ClusterSpec:
    return ClusterSpec(
        name=name,
        sites=[
            SiteSpec(
                name=site,
                country=country,
                operator=operator,
                nodes=[
                    NodeGroupSpec(
                        count=count,
                        accelerator=accel,
                        accelerators=accels,
                        cpu=cpu,
                        memory_gib=mem,
                    )
                    for (accel, accels, cpu, mem), count in groups.most_common()
                ],
            )
            for site, groups in sites.items()
        ],
    )


def cluster_yaml(spec: ClusterSpec, comment: str = "") -> str:
    data = _compact(spec.model_dump(mode="json", exclude_defaults=True))
    for site, site_spec in zip(data["sites"], spec.sites, strict=True):
        # cpu and memory spelled out: their defaults are not obvious to a reader.
        site["nodes"] = [
            {k: v for k, v in group.items() if k not in ("cpu", "memory_gib", "name_prefix")}
            | _compact({"cpu": g.cpu, "memory_gib": g.memory_gib})
            | ({"name_prefix": g.name_prefix} if g.name_prefix else {})
            for group, g in zip(site["nodes"], site_spec.nodes, strict=True)
        ]
    head = "".join(f"# {line}\n" if line else "#\n" for line in comment.splitlines())
    body = yaml.safe_dump(data, sort_keys=False, default_flow_style=None, width=100)
    return head + body


def write_cluster(path: str | Path, spec: ClusterSpec, comment: str = "") -> None:
    path = Path(path)
    text = cluster_yaml(spec, comment)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
