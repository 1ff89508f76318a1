"""Per-tenant usage, quotas and vouchers as the scheduler sees them."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from silkroute.model.tenant import TenantSpec

# Commitments are kept in millionths of an accelerator-second, as integers: a tenant's running
# total is then the same whatever order runs started and stopped in (a rebuilt book sums its
# jobs in id order), and a check at the exact limit decides alike in both.
MICRO = 1_000_000


def commitment_of(gpus: float, time_limit_s: float | None) -> int | None:
    """What one run may still be charged, in millionths of an accelerator-second: its
    accelerators for its whole time limit (a run's charge runs from its start to its end,
    and nothing of a run in progress is charged yet). None: it holds accelerators and has no
    time limit, so nothing bounds it; 0 for CPU-only work."""
    if gpus <= 0:
        return 0
    if time_limit_s is None:
        return None
    return math.ceil(gpus * time_limit_s * MICRO)


@dataclass(slots=True)
class TenantAccount:
    name: str
    weight: float = 1.0
    quota: dict[str, float] = field(default_factory=dict)
    voucher_gpu_s: float = 0.0
    pay_as_you_go: bool = True
    gpus_in_use: dict[str, float] = field(default_factory=dict)
    cpu_milli_in_use: int = 0
    consumed_gpu_s: float = 0.0
    # Jobs holding resources (starting, running, or stopping until they are gone); at most
    # `max_running_jobs` of them (None: no cap), as Slurm's MaxJobs association limit.
    max_running_jobs: int | None = None
    jobs_holding: int = 0
    # Of those, jobs whose old run is still stopping outside the book (its nodes were taken
    # away while it ran) and the accelerators it still holds there: its driver counts them
    # in (`TenantBook.hold_stopping`) until it reports the run gone, as Slurm counts a job
    # COMPLETING against its limits.
    jobs_stopping: int = 0
    gpus_stopping: dict[str, float] = field(default_factory=dict)
    # Why none of its jobs may start now for money (its driver decides: the control plane
    # when its monthly budget is spent); None: no such hold. Set through `hold_for_budget`.
    budget_hold: str | None = None
    # What its runs that hold accelerators may still be charged before they end (their
    # accelerators x their time limits, `commitment_of`; in millionths of an accelerator-
    # second), and how many such runs have no time limit: a vouchers-only tenant's job starts
    # only if its vouchers cover what ended runs were charged, this and its own (Slurm's
    # `AccountingStorageEnforce=safe` for GrpTRESMins). Counted from a run's start until it
    # is gone, stopping runs outside the book included.
    committed_micro_s: int = 0
    unlimited_runs: int = 0
    # Bumped whenever usage changes: a job held for quota or vouchers may now pass (usage
    # dropped), or its hold reason may have changed (usage grew: "quota-exceeded" where it
    # waited for room before). Only jobs of limited tenants key on it (skipping.blocked_key).
    version: int = 0

    @property
    def limited(self) -> bool:
        """True when its usage decides whether its jobs may start (quota, vouchers, a cap on
        running jobs, a budget hold): only then do its waiting jobs key on `version`."""
        return (
            bool(self.quota)
            or not self.pay_as_you_go
            or self.max_running_jobs is not None
            or self.budget_hold is not None
        )

    def in_use(self, accel_type: str | None) -> float:
        if accel_type is None:
            return sum(self.gpus_in_use.values())
        return self.gpus_in_use.get(accel_type, 0.0)

    @property
    def committed_gpu_s(self) -> float:
        """Accelerator-seconds its runs in progress may still be charged (`commitment_of`)."""
        return self.committed_micro_s / MICRO

    def commit(self, commitment: int | None, sign: int) -> None:
        if commitment is None:
            self.unlimited_runs += sign
        else:
            self.committed_micro_s += sign * commitment

    def stopping(self, accel_type: str | None) -> float:
        """Of `in_use`, the accelerators runs still stopping outside the book hold."""
        if accel_type is None:
            return sum(self.gpus_stopping.values())
        return self.gpus_stopping.get(accel_type, 0.0)


@dataclass(frozen=True, slots=True)
class StoppingRun:
    """A job's old run that still holds accelerators where the book no longer looks (its
    nodes were removed or shrank while it ran): it counts toward its tenant's running cap
    and quota until its driver reports it gone. `since`: from when the book no longer
    counts its service (the driver adds the rest, up to the run's end, once it knows it)."""

    job_id: int
    tenant: str
    accelerator_type: str | None
    gpus: float
    cpu_milli: int
    since: float
    # What the run may still be charged until it is gone (`commitment_of`: its job's
    # accelerators x time limit; None: it has no time limit).
    commitment: int | None = 0

    def to_dict(self) -> dict[str, object]:
        return {
            "job": self.job_id,
            "tenant": self.tenant,
            "accelerator_type": self.accelerator_type,
            "gpus": self.gpus,
            "cpu_milli": self.cpu_milli,
            "since": self.since,
            "commitment": self.commitment,
        }

    @staticmethod
    def from_dict(data: dict[str, object]) -> StoppingRun:
        accel = data.get("accelerator_type")
        commitment = data.get("commitment", 0)  # (none in a snapshot from before it was kept)
        return StoppingRun(
            job_id=int(str(data["job"])),
            tenant=str(data["tenant"]),
            accelerator_type=None if accel is None else str(accel),
            gpus=float(str(data["gpus"])),
            cpu_milli=int(str(data["cpu_milli"])),
            since=float(str(data["since"])),
            commitment=None if commitment is None else int(str(commitment)),
        )


class TenantBook:
    """Accounts are created on first sight with weight 1 and no limits.

    Each tenant's `consumed_gpu_s` (what its vouchers are drawn on) counts the service of its
    ended runs. By default (the simulator) the book counts it by its own clock, from a run's
    start to its stop as it sees them. `billed_by_driver`: the driver bills each run when it
    ends (`bill`) and the book counts only that, so a tenant's voucher balance is the driver's
    ledger's at every moment (only the driver learns when a run's engine really started and
    ended, a grace period's end included)."""

    def __init__(
        self, specs: list[TenantSpec] | None = None, *, billed_by_driver: bool = False
    ) -> None:
        self.billed_by_driver = billed_by_driver
        self._accounts: dict[str, TenantAccount] = {}
        self._stopping: dict[int, StoppingRun] = {}
        for spec in specs or []:
            self._accounts[spec.name] = TenantAccount(
                name=spec.name,
                weight=spec.weight,
                quota=dict(spec.quota),
                voucher_gpu_s=spec.voucher_accelerator_hours * 3600.0,
                pay_as_you_go=spec.pay_as_you_go,
                max_running_jobs=spec.max_running_jobs,
            )

    def get(self, name: str) -> TenantAccount:
        account = self._accounts.get(name)
        if account is None:
            account = self._accounts[name] = TenantAccount(name)
        return account

    def all(self) -> list[TenantAccount]:
        return list(self._accounts.values())

    def charge_start(
        self,
        name: str,
        accel_type: str | None,
        gpus: float,
        cpu_milli: int,
        commitment: int | None = 0,
    ) -> None:
        """A run starts holding resources; `commitment`: what it may be charged before it
        ends (`commitment_of`), counted until `charge_stop`."""
        account = self.get(name)
        if accel_type is not None:
            account.gpus_in_use[accel_type] = account.gpus_in_use.get(accel_type, 0.0) + gpus
        account.cpu_milli_in_use += cpu_milli
        account.jobs_holding += 1
        account.commit(commitment, 1)
        account.version += 1

    def charge_stop(
        self,
        name: str,
        accel_type: str | None,
        gpus: float,
        cpu_milli: int,
        gpu_s: float,
        commitment: int | None = 0,
    ) -> None:
        account = self.get(name)
        if accel_type is not None:
            left = account.gpus_in_use.get(accel_type, 0.0) - gpus
            account.gpus_in_use[accel_type] = 0.0 if abs(left) < 1e-9 else left
        account.cpu_milli_in_use -= cpu_milli
        account.jobs_holding -= 1
        account.commit(commitment, -1)
        account.version += 1
        self.count_service(name, gpu_s)

    def count_service(self, name: str, gpu_s: float) -> None:
        """Service a run gave by the book's own clock (it stopped, or left with its nodes):
        counted unless the driver bills runs itself."""
        if not self.billed_by_driver:
            account = self.get(name)
            account.consumed_gpu_s += gpu_s
            account.version += 1

    def bill(self, name: str, gpu_s: float) -> None:
        """A run of the tenant ended and its driver billed it `gpu_s` accelerator-seconds
        (for a book `billed_by_driver`: the one figure its ledger charged)."""
        account = self.get(name)
        account.consumed_gpu_s += gpu_s
        account.version += 1

    def reset_usage(self) -> None:
        """Forget what jobs in the book hold (the book counts them again: its nodes were
        reshaped); runs still stopping outside it keep counting."""
        for account in self._accounts.values():
            account.gpus_in_use.clear()
            account.cpu_milli_in_use = 0
            account.jobs_holding = 0
            account.gpus_stopping.clear()
            account.jobs_stopping = 0
            account.committed_micro_s = account.unlimited_runs = 0
            account.version += 1
        for run in self._stopping.values():
            self._count_stopping(run, 1)

    def hold_stopping(self, run: StoppingRun) -> None:
        """A job's old run still holds its accelerators outside the book: its tenant is
        charged for them (one running job, `gpus` of its type, what the run may still be
        charged: `commitment`) until `release_stopping`.
        One per job: a second hold replaces the first."""
        self.release_stopping(run.job_id, None, None)
        self._stopping[run.job_id] = run
        self._count_stopping(run, 1)

    def release_stopping(
        self, job_id: int, started_at: float | None, ended_at: float | None
    ) -> StoppingRun | None:
        """The job's old run is gone: it ran from `started_at` to `ended_at` (None: it never
        ran, or nothing is known), of which the service from the hold's `since` is counted
        (`count_service`). Returns the hold, None if there was none."""
        run = self._stopping.pop(job_id, None)
        if run is None:
            return None
        self._count_stopping(run, -1)
        if started_at is not None and ended_at is not None:
            served = max(0.0, ended_at - max(run.since, started_at))
            self.count_service(run.tenant, served * run.gpus)
        return run

    def stopping_runs(self) -> list[StoppingRun]:
        return [self._stopping[k] for k in sorted(self._stopping)]

    def _count_stopping(self, run: StoppingRun, sign: int) -> None:
        account = self.get(run.tenant)
        accel = run.accelerator_type
        if accel is not None:
            for counted in (account.gpus_in_use, account.gpus_stopping):
                left = counted.get(accel, 0.0) + sign * run.gpus
                counted[accel] = 0.0 if abs(left) < 1e-9 else left
        account.cpu_milli_in_use += sign * run.cpu_milli
        account.jobs_holding += sign
        account.jobs_stopping += sign
        account.commit(run.commitment, sign)
        account.version += 1

    def hold_for_budget(self, name: str, why: str | None) -> bool:
        """Hold every waiting job of the tenant (`why`: for people), or lift the hold (None).
        True when that changed anything (its waiting jobs are then looked at again)."""
        account = self.get(name)
        if (account.budget_hold is None) == (why is None):
            return False
        account.budget_hold = why
        account.version += 1
        return True
