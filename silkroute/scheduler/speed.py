"""The speed model: what policies know of how fast a job runs on each accelerator type.

A job's relative speed per type comes from its spec (`accelerator_types: {V100: 1.0, K80:
0.3}`) or a measured profile; service is elapsed time x relative speed. Policies never read
how long a job will run (a simulator's truth); where one needs a length, it takes the user's
time limit.
"""

from __future__ import annotations

from silkroute.scheduler.job import Job


def relative_speed(job: Job, accel: str | None) -> float:
    """Speed on `accel` relative to the job's fastest type (1.0); 0 where it cannot run."""
    if job.accelerator_types is not None and accel not in job.accelerator_types:
        return 0.0
    if not job.speed:
        return 1.0
    here = job.speed.get(accel, 1.0) if accel is not None else 1.0
    return here / job.best_speed()
