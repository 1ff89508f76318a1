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
    # Bumped whenever usage changes: a job held for quota or vouchers may now pass (usage
    # dropped), or its hold reason may have changed (usage grew: "quota-exceeded" where it
    # waited for room before). Only jobs of limited tenants key on it (skipping.blocked_key).
    version: int = 0

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
        account.version += 1

    def charge_stop(
        self, name: str, accel_type: str | None, gpus: float, cpu_milli: int, gpu_s: float
    ) -> None:
        account = self.get(name)
        if accel_type is not None:
            left = account.gpus_in_use.get(accel_type, 0.0) - gpus
            account.gpus_in_use[accel_type] = 0.0 if abs(left) < 1e-9 else left
        account.cpu_milli_in_use -= cpu_milli
        account.consumed_gpu_s += gpu_s
        account.version += 1
