"""A cap on each tenant's jobs started at once (Slurm's MaxJobs / GrpJobs association limit).

Counted where jobs start: the book charges a tenant's account at each start it proposes, so
the cap holds within one step however many of its jobs are waiting. A gang is one job; each
replica of an inference job is its own job. A job that was told to stop counts until its
run is reported gone (it still holds its devices), also when its nodes were taken away
meanwhile (its driver counts the run in: `TenantBook.hold_stopping`).
"""

from __future__ import annotations

from silkroute.scheduler.job import Job
from silkroute.scheduler.policies.base import Admission, Context


class RunningJobsAdmission(Admission):
    name = "running-jobs"

    def check(self, job: Job, ctx: Context) -> tuple[str, str] | None:
        account = ctx.tenants.get(job.tenant)
        cap = account.max_running_jobs
        if cap is None or account.jobs_holding < cap:
            return None
        stopping = ""
        if account.jobs_stopping:
            stopping = (
                f", {account.jobs_stopping} of them an old run still stopping on a node taken "
                "away (it counts until its agent confirms it gone)"
            )
        return (
            "max-running-jobs",
            f"tenant {job.tenant} has {account.jobs_holding} jobs running{stopping} and may "
            f"run at most {cap} at once (max_running_jobs); this job starts when one of them "
            "ends",
        )
