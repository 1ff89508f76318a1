"""Tenants that live on vouchers alone start only work their vouchers can pay for.

As Slurm's GrpTRESMins under `AccountingStorageEnforce=safe` ("a job is launched only if it
can run to completion within the limits"): a job of a tenant that is not pay-as-you-go starts
only if what its ended runs were charged (`consumed_gpu_s`), what its runs in progress may
still be charged (their accelerators x time limits, `committed_gpu_s`) and what the job itself
may be charged (its accelerators x its time limit) fit in its vouchers. Else it waits:

- `voucher-exhausted`: nothing of the vouchers is left (until an admin grants more);
- `voucher-insufficient`: some is left, not enough for this job beside its running ones (it
  starts when one of them ends early, which frees what it did not use, or on a new grant);
- `voucher-needs-time-limit`: the job has no time limit, so nothing bounds what it may be
  charged (Slurm's `safe` never starts a job whose limit could exceed what is left). It could
  be let run on what is left only if something stopped it when that runs out, and nothing
  does (`--budget-stops-running` acts on monthly budgets, not vouchers): it waits until it is
  resubmitted with `time_limit_s` or its tenant pays as it goes. A job without a limit that
  already runs (started while its tenant paid as it went) holds the tenant's other jobs
  (`voucher-insufficient`) until it ends.

A run is charged from its start to its end, so a run in progress commits its whole time limit
until it ends (nothing of it is charged before); the tenant's running total moves only when a
run starts or is gone (`TenantBook.charge_start`/`charge_stop`), so a check costs a few
additions. A run may still overrun its limit by the time it takes to be stopped (the live
loop's check every `poll_s` and the grace period): that, at the site's price, is the only way
past the vouchers.
"""

from __future__ import annotations

from silkroute.scheduler.job import Job
from silkroute.scheduler.policies.base import Admission, Context
from silkroute.scheduler.tenants import MICRO, commitment_of

HOUR = 3600.0


class VoucherAdmission(Admission):
    name = "vouchers"

    def check(self, job: Job, ctx: Context) -> tuple[str, str] | None:
        account = ctx.tenants.get(job.tenant)
        if account.pay_as_you_go or job.gpus == 0:
            return None
        unspent = account.voucher_gpu_s - account.consumed_gpu_s
        if unspent <= 0:
            return ("voucher-exhausted", f"tenant {job.tenant} has used all its voucher hours")
        need = commitment_of(job.gpus, job.time_limit_s)
        if need is None:
            return (
                "voucher-needs-time-limit",
                f"tenant {job.tenant} lives on vouchers alone ({_h(unspent)} accelerator-hours "
                "left) and this job has no time limit, so nothing bounds what it would use: "
                "resubmit it with time_limit_s (it starts once its accelerators x its time "
                "limit fit in what is left)",
            )
        if account.unlimited_runs:
            return (
                "voucher-insufficient",
                f"tenant {job.tenant} lives on vouchers alone and {account.unlimited_runs} of "
                "its running jobs have no time limit, so they may use all of its "
                f"{_h(unspent)} accelerator-hours left; this job waits until they end",
            )
        if account.consumed_gpu_s + (account.committed_micro_s + need) / MICRO <= (
            account.voucher_gpu_s
        ):
            return None
        committed = account.committed_gpu_s
        return (
            "voucher-insufficient",
            f"tenant {job.tenant} lives on vouchers alone: this job needs {_h(need / MICRO)} "
            f"accelerator-hours ({_accelerators(job.gpus)} x its time limit of "
            f"{job.time_limit_s:g} s) and {_h(max(0.0, unspent - committed))} are left "
            f"({_h(unspent)} unspent, {_h(committed)} of them held for its running jobs' "
            "time limits); it starts when enough of them end, or with more vouchers",
        )


def _accelerators(n: float) -> str:
    return f"{n:g} accelerator{'' if n == 1 else 's'}"


def _h(accelerator_s: float) -> str:
    return f"{accelerator_s / HOUR:.4g}"
