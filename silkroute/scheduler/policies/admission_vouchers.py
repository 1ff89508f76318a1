"""Tenants that live on vouchers alone run only while voucher hours remain."""

from __future__ import annotations

from silkroute.scheduler.job import Job
from silkroute.scheduler.policies.base import Admission, Context


class VoucherAdmission(Admission):
    name = "vouchers"

    def check(self, job: Job, ctx: Context) -> tuple[str, str] | None:
        account = ctx.tenants.get(job.tenant)
        if account.pay_as_you_go or job.gpus == 0:
            return None
        left = account.voucher_gpu_s - account.consumed_gpu_s
        if left <= 0:
            return ("voucher-exhausted", f"tenant {job.tenant} has used all its voucher hours")
        return None
