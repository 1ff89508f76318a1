"""Per-tenant usage, quotas and vouchers as the scheduler sees them."""

from __future__ import annotations

from dataclasses import dataclass, field

from silkroute.model.tenant import TenantSpec


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
    # Why none of its jobs may start now for money (its driver decides: the control plane
    # when its monthly budget is spent); None: no such hold. Set through `hold_for_budget`.
    budget_hold: str | None = None
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


class TenantBook:
    """Accounts are created on first sight with weight 1 and no limits."""

    def __init__(self, specs: list[TenantSpec] | None = None) -> None:
        self._accounts: dict[str, TenantAccount] = {}
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

    def charge_start(self, name: str, accel_type: str | None, gpus: float, cpu_milli: int) -> None:
        account = self.get(name)
        if accel_type is not None:
            account.gpus_in_use[accel_type] = account.gpus_in_use.get(accel_type, 0.0) + gpus
        account.cpu_milli_in_use += cpu_milli
        account.jobs_holding += 1
        account.version += 1

    def charge_stop(
        self, name: str, accel_type: str | None, gpus: float, cpu_milli: int, gpu_s: float
    ) -> None:
        account = self.get(name)
        if accel_type is not None:
            left = account.gpus_in_use.get(accel_type, 0.0) - gpus
            account.gpus_in_use[accel_type] = 0.0 if abs(left) < 1e-9 else left
        account.cpu_milli_in_use -= cpu_milli
        account.jobs_holding -= 1
        account.consumed_gpu_s += gpu_s
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
