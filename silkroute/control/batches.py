"""Multi-job submits (`POST /v1/jobs:batch`): every job of one submit is stored, or none.

As Armada's `SubmitJobs` (a list of job items, one queue) or Google's `batchCreate` methods:
one request holds the jobs of one tenant, checked job by job as single submits are
(`submits.prepare` first, then the store's checks in the writer's transaction), and the
batch is settled whole before anything is inserted: one refused job refuses the batch, with
that job's error naming `jobs[i]`, and nothing of it is stored. The pending-jobs cap counts
the whole batch, under the lock single submits take. One `Idempotency-Key` covers the batch:
job 0 keeps it and job i > 0 gets `batch-i:` + its SHA-256 (as inference replicas do), so a
retry finds every job it stored; a retry whose jobs differ in any way (a spec, their number)
is a 422, as for a single submit.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from silkroute.control import limits
from silkroute.control.errors import BODY, FieldProblem, ServiceError, invalid, message_of
from silkroute.model.errors import field_path
from silkroute.model.job import JobSpec
from silkroute.store.models import JobRow, TenantRow

if TYPE_CHECKING:
    from silkroute.control.submits import Outcome, Prepared, _Checked

# Jobs one batch may store, each inference replica counted: as many as one inference job's
# replicas may be (1,024), so whatever one submit may store also fits one batch; and a
# bound on one transaction's size and the time the writer spends on it.
MAX_BATCH_JOBS = 1024
LISTED_PROBLEMS = 20  # of a batch's invalid jobs, in the message (every one in `errors`)


@dataclass(frozen=True, slots=True, eq=False)  # compared and hashed by identity
class BatchTag:
    """One multi-job submit: its jobs are stored together or not at all."""

    size: int
    key: str | None
    tenant: str


def jobs_of(body: Any) -> list[Any]:
    """The `jobs` of a batch's body, refusing any other shape."""
    if not isinstance(body, dict) or "jobs" not in body:
        raise invalid(BODY, 'a batch is {"jobs": [job, ...]} (see docs/platform.md)')
    for name in body:
        if name != "jobs":
            raise invalid(str(name), "not a field of a batch (it has only `jobs`)")
    jobs = body["jobs"]
    if not isinstance(jobs, list) or not jobs:
        raise invalid("jobs", "a list of at least one job")
    if len(jobs) > MAX_BATCH_JOBS:
        raise invalid(
            "jobs", f"at most {MAX_BATCH_JOBS} jobs in one batch (got {len(jobs)}); split it"
        )
    return jobs


def batch_key(key: str | None, index: int) -> str | None:
    """Job 0 keeps the batch's Idempotency-Key; job i gets one derived from it (<= 128)."""
    if key is None or index == 0:
        return key
    return f"batch-{index}:" + hashlib.sha256(key.encode("utf-8")).hexdigest()


def at_job(exc: ServiceError, index: int) -> ServiceError:
    """`exc` as the error of job `index` of a batch: each field named `jobs[i].FIELD`."""
    problems = [p.within(("jobs", index)) for p in exc.problems]
    message = message_of(problems) or f"{field_path(('jobs', index))}: {exc.message}"
    return ServiceError(exc.status, exc.code, message, problems)


def invalid_jobs(problems: list[FieldProblem]) -> ServiceError:
    shown = message_of(problems[:LISTED_PROBLEMS])
    more = len(problems) - LISTED_PROBLEMS
    return ServiceError(
        422, "invalid", shown + (f"; and {more} more (see errors)" if more > 0 else ""), problems
    )


def one_tenant(specs: Sequence[JobSpec]) -> str:
    """A batch is one tenant's (its limits, budget and keys are the tenant's)."""
    first = specs[0].tenant
    for i, spec in enumerate(specs):
        if spec.tenant != first:
            raise invalid(
                ("jobs", i, "tenant"),
                f"a batch is for one tenant (jobs[0] is for {first!r}); "
                f"submit {spec.tenant!r}'s jobs in a batch of their own",
            )
    return first


def _members(batch: Sequence[Prepared]) -> dict[BatchTag, list[int]]:
    found: dict[BatchTag, list[int]] = {}
    for i, prepared in enumerate(batch):
        if prepared.batch is not None:
            found.setdefault(prepared.batch, []).append(i)
    return found


def refuse_past_caps(
    batch: Sequence[Prepared],
    outcomes: list[Outcome | None],
    tenants: dict[str, TenantRow],
    pending: dict[str, int],
    earlier: dict[tuple[str, str], JobRow],
) -> None:
    """Refuse, before any of its jobs is checked, a batch that would take its tenant past
    `max_pending_jobs` (counted under the tenants' lock, see limits.py): 429 for the whole
    batch, which says how many jobs it holds. A retry of a stored batch is not refused."""
    for tag, indices in _members(batch).items():
        if tag.tenant not in pending:  # no cap (or no such tenant: refused by the checks)
            continue
        if tag.key is not None and (tag.tenant, tag.key) in earlier:
            continue
        size = sum(len(batch[i].specs) for i in indices)
        full = limits.pending_refusal(tenants[tag.tenant], pending[tag.tenant], size)
        if full is not None:
            for i in indices:
                outcomes[i] = full


def all_or_none(
    session: Session,
    batch: Sequence[Prepared],
    outcomes: list[Outcome | None],
    checked: list[_Checked],
    pending: dict[str, int],
) -> list[_Checked]:
    """Settle every batch whole, before anything is inserted: one refused job refuses all
    of its batch (their outcomes become its error). The checked submits left to insert."""
    dropped: set[int] = set()
    for tag, indices in _members(batch).items():
        for i in indices:  # the same batch twice in this transaction: the first decides
            target = outcomes[i]
            if isinstance(target, int) and isinstance(outcomes[target], ServiceError):
                outcomes[i] = outcomes[target]
        verdict = _verdict(session, tag, [outcomes[i] for i in indices])
        if verdict is not None:
            for i in indices:
                outcomes[i] = verdict
            dropped.update(indices)
    for i, outcome in enumerate(outcomes):  # a single submit with a dropped job's key
        if isinstance(outcome, int) and isinstance(outcomes[outcome], ServiceError):
            outcomes[i] = outcomes[outcome]
    kept = []
    for item in checked:
        if item.index not in dropped:
            kept.append(item)
        elif item.prepared.spec.tenant in pending:  # counted by the loop: not stored now
            pending[item.prepared.spec.tenant] -= len(item.prepared.specs)
    return kept


def _verdict(session: Session, tag: BatchTag, mine: list[Outcome | None]) -> ServiceError | None:
    """Why the batch is refused, given its jobs' outcomes in `jobs` order; None: store it
    (all new) or answer it (a clean retry)."""
    new = [o is None for o in mine]
    repeated = [o is not None and not isinstance(o, ServiceError) for o in mine]  # by its key
    mismatched = any(isinstance(o, ServiceError) and o.code == "idempotency_mismatch" for o in mine)
    if mismatched or (any(repeated) and not all(repeated)):
        return mismatch()
    if all(repeated):
        if tag.key is not None and longer_batch_stored(session, tag.tenant, tag.key, tag.size):
            return mismatch()
        return None
    for place, outcome in enumerate(mine):
        if isinstance(outcome, ServiceError):
            if outcome.code == "too_many_pending":  # about the batch, not one of its jobs
                return outcome
            return at_job(outcome, place)
    assert all(new)
    return None


def longer_batch_stored(session: Session, tenant: str, key: str, size: int) -> bool:
    """Whether the key's earlier batch had more than `size` jobs (a retry of `size` jobs, or
    a single submit for `size` 1, is then a different body)."""
    beyond = batch_key(key, size)
    found = session.scalar(
        select(JobRow.id).where(JobRow.tenant == tenant, JobRow.idempotency_key == beyond)
    )
    return found is not None


def mismatch() -> ServiceError:
    reason = (
        "already used for other jobs (another batch, a different number of jobs, or a "
        "single submit); use a new key for a new batch"
    )
    return ServiceError(
        422,
        "idempotency_mismatch",
        f"Idempotency-Key: {reason}",
        [FieldProblem("Idempotency-Key", reason)],
    )
