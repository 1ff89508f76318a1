"""Job submission with group commit: submits that arrive together share one transaction.

A submit is checked in two halves. What needs no database (the body's shape, the spec's
fields, the caller's right to submit for that tenant) is checked at once, in the caller's
thread. The rest (the tenant, the sites, could the job ever run here, the money budget, an
earlier submit with the same Idempotency-Key) is checked by one writer thread that takes
every submit waiting for it, checks each, inserts the accepted ones with one statement per
table and commits once: one fsync for many jobs. Each caller is answered only after the
commit that holds its job, so a crash never loses a job that was acknowledged; a refused
submit is answered with its own error and stores nothing. A multi-job submit
(`prepare_batch`) is settled whole in that transaction (`batches.py`): all its jobs, or none.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import hashlib
import json
import logging
import math
import queue
import re
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError
from sqlalchemy import insert, select, tuple_
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from silkroute.control import accounting, batches, copies, limits
from silkroute.control.auth import Principal, Role
from silkroute.control.batches import BatchTag
from silkroute.control.errors import (
    BODY,
    FieldProblem,
    ServiceError,
    conflict,
    invalid,
    invalid_fields,
    problems_of,
)
from silkroute.control.governance import (
    DataRefused,
    Explanation,
    actor_of,
    audit_refusal,
    check_job_datasets,
)
from silkroute.control.scheduling import LiveScheduler
from silkroute.model.accelerators import catalogue
from silkroute.model.cluster import SiteSpec
from silkroute.model.job import JobKind, JobSpec, bounded_priority, submit_bounds
from silkroute.policy.explain import audit_detail
from silkroute.store.audit import audited, record
from silkroute.store.models import Base, JobRow, NodeStateRow, SiteRow, TenantRow

if TYPE_CHECKING:
    from silkroute.control.service import Platform

log = logging.getLogger("silkroute.api")
MAX_BATCH = 256  # submits per transaction: bounds a batch's latency and its statement sizes
# Core statements on the tables: the ORM's bulk path costs more than the rest of a batch.
JOBS, EVENTS = Base.metadata.tables["jobs"], Base.metadata.tables["job_events"]
JOB_INSERT = insert(JOBS).returning(JOBS.c.id, sort_by_parameter_order=True)
EVENT_INSERT = insert(EVENTS)
READS_INSERT = insert(Base.metadata.tables["job_datasets"])


@dataclass(frozen=True, slots=True)
class Prepared:
    """A submit whose body is a valid spec, waiting for the store's checks.

    `specs`: what is stored, one job each: the spec itself, or for an inference job with
    `replicas: N`, N independent copies (see `replica_specs`)."""

    caller: Principal
    spec: JobSpec
    specs: tuple[JobSpec, ...]
    key: str | None
    batch: BatchTag | None = None  # a job of a multi-job submit (see `prepare_batch`)
    index: int = 0  # its place in that submit's `jobs`


@dataclass(slots=True)
class Accepted:
    """The stored job(s) of one submit, and whether this submit created them."""

    rows: list[JobRow]
    created: bool
    spec: JobSpec | None = None  # the first job's validated spec, when created now


@dataclass(slots=True)
class SitesSnapshot:
    key: tuple[object, ...]
    names: frozenset[str]
    specs: list[SiteSpec]
    removed: tuple[str, ...]  # nodes taken out of the federation (node_states)
    accelerator_types: frozenset[str]
    checked_at: float  # time.monotonic() of the last read


# What every engine can hand a process (POSIX's portable names): `execve` refuses a name
# holding `=`, so such a job would be accepted and then never start. Checked here, at
# submit, not in `JobSpec`: specs already stored are read back through `JobSpec`.
ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def validation_problems(exc: ValidationError) -> ServiceError:
    return invalid_fields(problems_of(exc.errors()))


def no_nul(value: Any, where: tuple[str | int, ...] = ()) -> None:
    """Refuse NUL characters anywhere: PostgreSQL text cannot hold them."""
    if isinstance(value, str):
        if "\x00" in value:
            raise invalid(where or BODY, "contains a NUL character")
    elif isinstance(value, dict):
        for key, item in value.items():
            no_nul(str(key), where)
            no_nul(item, (*where, str(key)))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            no_nul(item, (*where, i))


def finite(value: Any, where: tuple[str | int, ...] = ()) -> None:
    """Refuse infinite and NaN numbers (JSON's `1e999`): no capacity or price is endless."""
    if isinstance(value, float):
        if not math.isfinite(value):
            raise invalid(where or BODY, "must be a finite number")
    elif isinstance(value, dict):
        for key, item in value.items():
            finite(item, (*where, str(key)))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            finite(item, (*where, i))


def prepare(caller: Principal, body: Any, idempotency_key: str | None) -> Prepared:
    """Every check that needs no database; raises `ServiceError` naming the field."""
    if not isinstance(body, dict):
        raise invalid(BODY, "a job is a JSON object of fields (see docs/job-spec.md)")
    if caller.role is Role.TENANT:
        given = body.get("tenant")
        if given is not None and given != caller.tenant:
            raise ServiceError(
                403, "forbidden", f"tenant: a {caller.tenant} token cannot submit for {given!r}"
            )
        body = {**body, "tenant": caller.tenant}
    check_idempotency_key(idempotency_key)
    try:
        spec = JobSpec.model_validate(body)
    except ValidationError as exc:
        raise validation_problems(exc) from None
    no_nul(body)
    finite(body)
    try:
        bounded_priority(spec.priority)
    except ValueError as exc:
        raise invalid("priority", str(exc)) from None
    past = submit_bounds(spec)
    if past:
        raise invalid_fields([FieldProblem.at(loc, reason) for loc, reason in past])
    if spec.command is None or spec.command == [] or spec.command == "":
        raise invalid("command", "a job needs a command to run (a list, or a shell line)")
    for name in spec.env:
        if not ENV_NAME.fullmatch(name):
            raise invalid(
                "env",
                f"{name!r} is not an environment variable name "
                "(letters, digits and '_', not starting with a digit)",
            )
    return Prepared(caller, spec, replica_specs(spec), idempotency_key)


def prepare_batch(caller: Principal, body: Any, idempotency_key: str | None) -> list[Prepared]:
    """`prepare` for a multi-job submit, `{"jobs": [...]}`: every job is checked, and every
    job's problems are reported at once, each field named `jobs[i].FIELD`."""
    jobs = batches.jobs_of(body)
    check_idempotency_key(idempotency_key)
    parts: list[Prepared] = []
    problems: list[FieldProblem] = []
    for i, job in enumerate(jobs):
        try:
            parts.append(prepare(caller, job, batches.batch_key(idempotency_key, i)))
        except ServiceError as exc:
            if exc.status != 422:  # not the job's fields (another tenant's name): at once
                raise batches.at_job(exc, i) from None
            problems += batches.at_job(exc, i).problems
    if problems:
        raise batches.invalid_jobs(problems)
    tenant = batches.one_tenant([p.spec for p in parts])
    stored = sum(len(p.specs) for p in parts)
    if stored > batches.MAX_BATCH_JOBS:
        raise invalid(
            "jobs",
            f"one batch stores at most {batches.MAX_BATCH_JOBS} jobs, each inference replica "
            f"counted (this one would store {stored}); split it",
        )
    tag = BatchTag(len(parts), idempotency_key, tenant)
    return [dataclasses.replace(p, batch=tag, index=i) for i, p in enumerate(parts)]


def check_idempotency_key(key: str | None) -> None:
    if key is not None and not 0 < len(key) <= 128:
        raise ServiceError(
            400,
            "invalid",
            "Idempotency-Key: between 1 and 128 characters",
            [FieldProblem("Idempotency-Key", "between 1 and 128 characters")],
        )


def replica_specs(spec: JobSpec) -> tuple[JobSpec, ...]:
    """An inference job's replicas are independent jobs, as in the simulator and as SkyPilot
    Serve or a Kubernetes Deployment treat them: each placed on its own (so each can go to
    the site nearest its users), each started, retried and stopped on its own. Replica k of
    job NAME is the job `NAME/replica-k` with SILKROUTE_REPLICA=k and SILKROUTE_REPLICAS=N
    in its environment (beside the usual rank and world size of its own gang)."""
    if spec.kind is not JobKind.INFERENCE or spec.replicas == 1:
        return (spec,)
    count = spec.replicas
    suffix = len(f"/replica-{count - 1}")
    if len(spec.name) + suffix > 253:
        raise invalid("name", f"at most {253 - suffix} characters with {count} replicas")
    return tuple(
        spec.model_copy(
            update={
                "name": f"{spec.name}/replica-{k}",
                "replicas": 1,
                "env": {**spec.env, "SILKROUTE_REPLICA": str(k), "SILKROUTE_REPLICAS": str(count)},
            }
        )
        for k in range(count)
    )


def replica_key(key: str | None, replica: int) -> str | None:
    """Replica 0 keeps the Idempotency-Key; the others get one derived from it (<= 128)."""
    if key is None or replica == 0:
        return key
    return f"replica-{replica}:" + hashlib.sha256(key.encode("utf-8")).hexdigest()


REFERENCE_TTL_S = 1.0  # sites and tenants changed by another process are seen within this


def sites_snapshot(platform: Platform, session: Session) -> SitesSnapshot:
    """The registered sites (with every copy of a dataset there) and removed nodes. This
    process drops the snapshot when it changes any; changes made elsewhere are seen within
    `REFERENCE_TTL_S`."""
    cached = platform.sites
    if cached is not None and time.monotonic() - cached.checked_at < REFERENCE_TTL_S:
        return cached
    # The declarations themselves, not only the names: `node add` changes a site in place.
    sites = session.execute(select(SiteRow.name, SiteRow.created_at, SiteRow.spec)).all()
    removed = session.execute(
        select(NodeStateRow.node).where(NodeStateRow.state == "removed")
    ).all()
    declared = sorted((name, created, _digest(spec)) for name, created, spec in sites)
    # Placement's view of a site holds the registered copies there too (control/copies.py).
    # A retired dataset's copies count nowhere, a site's declaration of it included.
    held, gone = copies.registered(session), copies.retired(session)
    listed = tuple(sorted((name, tuple(sorted(at))) for name, at in held.items()))
    key = (tuple(declared), tuple(sorted(r[0] for r in removed)), listed, tuple(sorted(gone)))
    if cached is not None and cached.key == key:
        cached.checked_at = time.monotonic()
        return cached
    stored = [SiteSpec.model_validate(spec) for _, _, spec in sorted(sites, key=lambda r: r[0])]
    specs = copies.with_copies(stored, held, gone)  # the rows read above, not read again
    types = set(catalogue().names())
    types.update(g.accelerator for s in specs for g in s.nodes if g.accelerator)
    snapshot = SitesSnapshot(
        key, frozenset(s.name for s in specs), specs, key[1], frozenset(types), time.monotonic()
    )
    platform.sites = snapshot
    return snapshot


def _digest(spec: Any) -> str:
    return hashlib.sha256(json.dumps(spec, sort_keys=True).encode("utf-8")).hexdigest()


def tenant_rows(platform: Platform, session: Session, names: set[str]) -> dict[str, TenantRow]:
    """The tenants named, from a copy re-read every `REFERENCE_TTL_S` (or when one is
    missing: a tenant created a moment ago)."""
    cached = platform.tenants
    fresh = time.monotonic() - platform.tenants_checked_at < REFERENCE_TTL_S
    if not fresh or not names <= cached.keys():
        cached = {row.name: row for row in session.scalars(select(TenantRow))}
        platform.tenants, platform.tenants_checked_at = cached, time.monotonic()
    return cached


def check_runnable(
    platform: Platform,
    session: Session,
    snapshot: SitesSnapshot,
    spec: JobSpec,
    tenant: TenantRow,
) -> Explanation | None:
    """Refuse what could never run here, naming the field; the data decision, if any."""
    known_types = snapshot.accelerator_types
    for name in spec.accelerator_types or []:
        if name not in known_types:
            raise invalid(
                "accelerator_types",
                f"unknown accelerator type {name!r}; known: " + ", ".join(sorted(known_types)),
            )
    for name in spec.sites or []:
        if name not in snapshot.names:
            raise invalid("sites", f"no site named {name!r}")
    key = (snapshot.key, tenant.name, json.dumps(tenant.quota, sort_keys=True))
    checker = platform.checkers.get(key)
    if checker is None:
        if len(platform.checkers) > 256:
            platform.checkers.clear()
        checker = LiveScheduler(snapshot.specs, [tenant.spec()])
        checker.remove_nodes(snapshot.removed, 0.0)
        platform.checkers[key] = checker
    why = checker.unsatisfiable(spec)
    if why is not None:
        raise invalid("(job)", why)
    far = checker.beyond_latency_slo(spec)
    if far is not None:
        raise invalid("latency_slo_ms", far)
    return check_job_datasets(session, spec, platform.loop.operator_policies)


@dataclass(slots=True)
class _Checked:
    index: int
    prepared: Prepared
    decided: Explanation | None
    values: list[dict[str, Any]] = field(default_factory=list)


Outcome = Accepted | ServiceError | int  # int: same key as that earlier submit of the batch


def store_batch(platform: Platform, batch: Sequence[Prepared]) -> list[Accepted | ServiceError]:
    """Check and store `batch` in one transaction; one outcome per submit, in order.

    Raises only for what is not the submit's fault (the database); the caller retries the
    submits one by one then, so one bad submit never fails the others."""
    outcomes: list[Outcome | None] = [None] * len(batch)
    checked: list[_Checked] = []
    now = time.time()
    opened = (
        audited(platform.store) if any(p.spec.datasets for p in batch) else platform.store.session()
    )
    with opened as session:
        tenants = tenant_rows(platform, session, {p.spec.tenant for p in batch})
        # Taken first: the pending counts below must be read under the lock (limits.py).
        capped = {p.spec.tenant for p in batch} & {
            name for name, row in tenants.items() if row.max_pending_jobs is not None
        }
        limits.lock_tenants(session, capped, platform.store.is_sqlite)
        pending = limits.pending_counts(session, capped)
        earlier = _earlier_by_key(session, batch)
        snapshot = sites_snapshot(platform, session)
        refusals: dict[str, str | None] = {}
        first_with_key: dict[tuple[str, str], int] = {}
        batches.refuse_past_caps(batch, outcomes, tenants, pending, earlier)
        for i, prepared in enumerate(batch):
            if outcomes[i] is not None:  # refused whole with its multi-job submit
                continue
            spec, key = prepared.spec, prepared.key
            if key is not None:
                found = earlier.get((spec.tenant, key))
                if found is not None:
                    refused = _mismatch(found.id, found.spec, prepared)
                    if (
                        refused is None
                        and prepared.batch is None
                        and batches.longer_batch_stored(session, spec.tenant, key, 1)
                    ):
                        refused = batches.mismatch()  # the key of a batch, job 0 alike
                    outcomes[i] = refused or Accepted(_siblings(session, found, prepared), False)
                    continue
                if (spec.tenant, key) in first_with_key:
                    first_index = first_with_key[(spec.tenant, key)]
                    stored = batch[first_index].specs[0].model_dump(mode="json")
                    outcomes[i] = _mismatch(None, stored, prepared) or first_index
                    continue
            try:
                tenant = tenants.get(spec.tenant)
                if tenant is None:
                    raise invalid("tenant", f"no tenant named {spec.tenant!r}")
                above = limits.priority_refusal(spec, tenant)
                if above is not None:
                    raise above
                decided = check_runnable(platform, session, snapshot, spec, tenant)
                if spec.tenant not in refusals:  # what was spent does not change in a batch
                    refusals[spec.tenant] = accounting.budget_refusal(session, tenant, now)
                refusal = refusals[spec.tenant]
                if refusal is not None:
                    raise conflict("budget_exhausted", refusal)
                if spec.tenant in pending:  # a replica group counts whole: all or none
                    full = limits.pending_refusal(tenant, pending[spec.tenant], len(prepared.specs))
                    if full is not None:
                        raise full
                    pending[spec.tenant] += len(prepared.specs)
            except ServiceError as exc:
                if isinstance(exc, DataRefused):
                    audit_refusal(session, prepared.caller, spec, exc)
                outcomes[i] = exc
                continue
            if key is not None:
                first_with_key[(spec.tenant, key)] = i
            checked.append(_Checked(i, prepared, decided))
        checked = batches.all_or_none(session, batch, outcomes, checked, pending)
        _insert(session, checked, now)
    for item in checked:
        rows = [JobRow(**values) for values in item.values]
        outcomes[item.index] = Accepted(rows, True, item.prepared.specs[0])
        for row, spec in zip(rows, item.prepared.specs, strict=True):
            platform.loop.submitted(row.id, spec, row.submitted_at)
    resolved: list[Accepted | ServiceError] = []
    for outcome in outcomes:
        if isinstance(outcome, int):  # a retry inside the batch: the same job(s), not created
            first = resolved[outcome]
            assert isinstance(first, Accepted)
            outcome = Accepted(first.rows, False)
        assert outcome is not None
        resolved.append(outcome)
    return resolved


def _mismatch(job_id: int | None, stored: Any, prepared: Prepared) -> ServiceError | None:
    """A key reused for another job is the client's error (the IETF Idempotency-Key draft:
    422), not a retry: answering with the first job would say the second was accepted."""
    if stored == prepared.specs[0].model_dump(mode="json"):
        return None
    which = "an earlier submit" if job_id is None else f"job {job_id}"
    reason = f"already used for {which}, with a different spec; use a new key for a new job"
    return ServiceError(
        422,
        "idempotency_mismatch",
        f"Idempotency-Key: {reason}",
        [FieldProblem("Idempotency-Key", reason)],
    )


def _earlier_by_key(session: Session, batch: Sequence[Prepared]) -> dict[tuple[str, str], JobRow]:
    wanted = {(p.spec.tenant, p.key) for p in batch if p.key is not None}
    if not wanted:
        return {}
    rows = session.scalars(
        select(JobRow).where(tuple_(JobRow.tenant, JobRow.idempotency_key).in_(sorted(wanted)))
    )
    return {(row.tenant, row.idempotency_key or ""): row for row in rows}


def _siblings(session: Session, first: JobRow, prepared: Prepared) -> list[JobRow]:
    """Every replica stored by the earlier submit with this key (replica 0 first)."""
    if len(prepared.specs) == 1:
        return [first]
    keys = [replica_key(prepared.key, k) for k in range(1, len(prepared.specs))]
    rest = session.scalars(
        select(JobRow)
        .where(JobRow.tenant == first.tenant, JobRow.idempotency_key.in_(keys))
        .order_by(JobRow.id)
    )
    return [first, *rest]


def _insert(session: Session, checked: list[_Checked], now: float) -> None:
    """One INSERT for every accepted job of the batch, one for their first events, one for
    the datasets they read."""
    if not checked:
        return
    for item in checked:
        for k, spec in enumerate(item.prepared.specs):
            item.values.append(
                {
                    "tenant": spec.tenant,
                    "name": spec.name,
                    "spec": spec.model_dump(mode="json"),
                    "state": "pending",
                    "submitted_at": now,
                    "idempotency_key": replica_key(item.prepared.key, k),
                    "attempts": 0,
                    "failures": 0,
                    "cancel_requested": False,
                    "message": "",
                }
            )
    values = [v for item in checked for v in item.values]
    ids = session.execute(JOB_INSERT, values).scalars().all()
    for job_values, job_id in zip(values, ids, strict=True):
        job_values["id"] = job_id
    reads = [
        {"job_id": v["id"], "dataset": name}
        for v in values
        for name in dict.fromkeys(v["spec"]["datasets"])
    ]
    if reads:  # which jobs read a dataset, by index (a retire's in-use check)
        session.execute(READS_INSERT, reads)
    session.execute(
        EVENT_INSERT,
        [
            {
                "job_id": v["id"],
                "at": now,
                "state": "pending",
                "reason": "submitted",
                "message": "",
                "site": None,
            }
            for v in values
        ],
    )
    for item in checked:
        decided = item.decided
        if decided is None:
            continue
        spec = item.prepared.spec
        for job_values in item.values:
            detail = audit_detail(
                decided.governance, spec.tenant, tuple(spec.datasets), decided.decisions
            )
            subject = f"job/{job_values['id']}"
            record(session, "data-decision", actor_of(item.prepared.caller), subject, detail)


# One submit waiting for the writer: a single job (its future holds an `Accepted`) or the
# jobs of one multi-job submit (a list of `Accepted`, one per job), stored in one batch.
Waiting = tuple[tuple[Prepared, ...], concurrent.futures.Future[Any]]


class SubmitWriter:
    """The one thread that stores submits, a batch per transaction (see the module doc)."""

    def __init__(self, platform: Platform, max_batch: int = MAX_BATCH) -> None:
        self.platform = platform
        self.max_batch = max_batch
        self._queue: queue.SimpleQueue[Waiting | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self.batches = 0
        self.stored = 0

    def submit(self, prepared: Prepared) -> concurrent.futures.Future[Accepted]:
        """Queue a prepared submit; the future holds its outcome once committed (or why not)."""
        future: concurrent.futures.Future[Any] = concurrent.futures.Future()
        self._ensure_thread()
        self._queue.put(((prepared,), future))
        return future

    def submit_all(self, parts: Sequence[Prepared]) -> concurrent.futures.Future[list[Accepted]]:
        """Queue the jobs of one multi-job submit (`prepare_batch`): one transaction stores
        them all or none; the future holds every job's outcome, or the batch's error."""
        future: concurrent.futures.Future[Any] = concurrent.futures.Future()
        self._ensure_thread()
        self._queue.put((tuple(parts), future))
        return future

    def waiting(self) -> int:
        """Submits queued and not yet taken into a batch."""
        return self._queue.qsize()

    def close(self) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout=30)
            self._thread = None

    def _ensure_thread(self) -> None:
        if self._thread is not None:
            return
        with self._start_lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="silkroute-submits", daemon=True
                )
                self._thread.start()

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            jobs = len(first[0])  # a multi-job submit larger than max_batch goes alone
            closing = False
            while jobs < self.max_batch:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    closing = True
                    break
                batch.append(item)
                jobs += len(item[0])
            self._write(batch)
            if closing:
                return

    def _write(self, batch: list[Waiting]) -> None:
        flat = [prepared for parts, _ in batch for prepared in parts]
        try:
            outcomes = store_batch(self.platform, flat)
        except Exception as exc:
            if len(batch) > 1:  # find the one at fault: each alone, in its own transaction
                for one in batch:
                    self._write([one])
                return
            try:
                outcomes = self._after_failure(batch[0][0], exc)
            except Exception as final:
                log.exception("storing a submit failed")
                batch[0][1].set_exception(final)
                return
        self.batches += 1
        start = 0
        for parts, future in batch:
            mine = outcomes[start : start + len(parts)]
            start += len(parts)
            refused = next((o for o in mine if isinstance(o, ServiceError)), None)
            if refused is not None:  # a batch's jobs share its one error (all or none)
                future.set_exception(refused)
                continue
            self.stored += len(mine)
            future.set_result(mine if parts[0].batch is not None else mine[0])

    def _after_failure(
        self, parts: tuple[Prepared, ...], exc: Exception
    ) -> list[Accepted | ServiceError]:
        if getattr(exc, "connection_invalidated", False):  # the database restarted
            return store_batch(self.platform, parts)
        if parts[0].batch is not None and parts[0].key is not None:
            # A same-key batch committed by another server process: checked again now,
            # it is answered as a retry (or refused as a different body).
            if isinstance(exc, IntegrityError):
                return store_batch(self.platform, parts)
            raise exc
        return self._after_conflict(parts[0], exc)

    def _after_conflict(self, prepared: Prepared, exc: Exception) -> list[Accepted | ServiceError]:
        """A same-key submit committed by another server process: answer with its job."""
        if prepared.key is None or not isinstance(exc, IntegrityError):
            raise exc
        with self.platform.store.session() as session:
            found = _earlier_by_key(session, [prepared]).get((prepared.spec.tenant, prepared.key))
            if found is None:
                raise exc
            mismatch = _mismatch(found.id, found.spec, prepared)
            return [mismatch or Accepted(_siblings(session, found, prepared), False)]
