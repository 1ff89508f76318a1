"""Law and operator restrictions together, for one job's datasets at one site.

Deny wins: the job may run at a site only when every dataset's origin law allows the
transfer to the site's country and no operator policy forbids it. Every refusal is kept,
each naming the dataset, the rule and what would unblock it. Pure and cached: the object is
immutable, so a change (new grant, new rules, a new day) builds a new one with `replace`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field

from silkroute.policy.catalog import Dataset, DatasetCatalog, Export, TenantCompliance
from silkroute.policy.engine import RuleBook, Transfer, Verdict
from silkroute.policy.operator import OperatorPolicies
from silkroute.policy.vocabulary import DataClass

CACHE_LIMIT = 100_000


@dataclass(frozen=True, slots=True)
class Refusal:
    code: str  # "data-law:RULE", "data-law:unknown-dataset" or "operator:POLICY"
    dataset: str | None
    rule: str
    legal_basis: str
    unblock: str
    uncertain: bool = False

    @property
    def message(self) -> str:
        what = f"dataset {self.dataset}: " if self.dataset else ""
        doubt = " [rule marked uncertain]" if self.uncertain else ""
        return f"{what}rule {self.rule} ({self.legal_basis}){doubt}; unblock: {self.unblock}"


@dataclass(frozen=True, slots=True)
class SiteDecision:
    site: str
    country: str
    refusals: tuple[Refusal, ...] = ()
    verdicts: tuple[tuple[str, Verdict], ...] = ()  # (dataset, law verdict), allows included

    @property
    def allowed(self) -> bool:
        return not self.refusals


@dataclass(frozen=True)
class Governance:
    rules: RuleBook
    catalog: DatasetCatalog
    on: dt.date
    compliance: Mapping[str, TenantCompliance] = field(default_factory=dict)
    operator: OperatorPolicies | None = None
    # Each origin's own date (RuleBook.local_days); an origin not here is on `on`.
    local_days: Mapping[str, dt.date] = field(default_factory=dict)
    _cache: dict[tuple[object, ...], SiteDecision] = field(
        default_factory=dict, compare=False, repr=False
    )

    def replace(self, **changes: object) -> Governance:
        """A copy with some parts changed (and a fresh site cache)."""
        return dataclasses.replace(self, _cache={}, **changes)  # type: ignore[arg-type]

    def day_in(self, origin: str) -> dt.date:
        """The date under the origin's law: its rules and its yearly count go by it."""
        return self.local_days.get(origin, self.on)

    def tenant(self, name: str) -> TenantCompliance:
        return self.compliance.get(name) or TenantCompliance(name)

    def check(
        self, tenant: str, datasets: tuple[str, ...], site: str, country: str
    ) -> SiteDecision:
        key = (tenant, datasets, site, country)
        found = self._cache.get(key)
        if found is None:
            if len(self._cache) >= CACHE_LIMIT:
                self._cache.clear()
            found = self._cache[key] = self._check(tenant, datasets, site, country)
        return found

    def _check(self, tenant: str, names: tuple[str, ...], site: str, country: str) -> SiteDecision:
        refusals: list[Refusal] = []
        verdicts: list[tuple[str, Verdict]] = []
        found: list[Dataset] = []
        for name in dict.fromkeys(names):  # each dataset once, in the job's order
            dataset = self.catalog.get(name)
            if dataset is None:
                refusals.append(
                    Refusal(
                        "data-law:unknown-dataset",
                        name,
                        "unknown-dataset",
                        "a dataset must be registered before a job may use it",
                        f"register dataset {name} with its origin and data class",
                    )
                )
                continue
            found.append(dataset)
        for dataset in found:
            verdict = self._law(dataset, found, country)
            verdicts.append((dataset.name, verdict))
            if not verdict.allowed:
                refusals.append(
                    Refusal(
                        verdict.reason_code,
                        dataset.name,
                        verdict.rule,
                        verdict.legal_basis,
                        verdict.unblock or "none known",
                        verdict.uncertain,
                    )
                )
        if self.operator is not None and (found or not names):
            refusal = self.operator.check(
                tenant,
                site,
                frozenset(d.data_class.value for d in found),
                frozenset(d.origin for d in found),
            )
            if refusal is not None:
                refusals.append(
                    Refusal(
                        refusal.reason_code, None, refusal.policy, refusal.reason, refusal.unblock
                    )
                )
        return SiteDecision(site, country, tuple(refusals), tuple(verdicts))

    def exports(
        self, datasets: tuple[str, ...], site: str, country: str, job: int | None = None
    ) -> list[Export]:
        """What starting a job with `datasets` at `site` (in `country`) sends abroad for the
        first time this calendar year: registered datasets of another origin that their owner
        has not yet exported this year."""
        out = []
        for name in dict.fromkeys(datasets):
            dataset = self.catalog.get(name)
            if dataset is None or dataset.origin == country:
                continue
            if name in self.tenant(dataset.owner).exported_datasets:
                continue
            out.append(
                Export(
                    dataset.owner,
                    name,
                    dataset.origin,
                    dataset.data_class,
                    dataset.subjects,
                    country,
                    site,
                    self.day_in(dataset.origin).year,
                    job,
                )
            )
        return out

    def with_exports(self, exports: list[Export]) -> Governance:
        """The same governance once `exports` happened (a copy; self is unchanged)."""
        if not exports:
            return self
        compliance = dict(self.compliance)
        for export in exports:
            current = compliance.get(export.tenant) or TenantCompliance(export.tenant)
            compliance[export.tenant] = current.with_export(export)
        changed = {(e.tenant, e.origin, e.data_class) for e in exports}
        after = self.replace(compliance=compliance)
        # Decisions about other data stand (a count is per owner, origin and class): keep
        # them, so a start does not cost every tenant its cached answers.
        after._cache.update(
            (key, decision)
            for key, decision in self._cache.items()
            if not self.counted_with(key[1], changed)  # type: ignore[arg-type]
        )
        return after

    def counted_with(
        self, datasets: tuple[str, ...], counts: set[tuple[str, str, DataClass]]
    ) -> bool:
        """True when one of `datasets` falls in one of `counts` (owner, origin, data class):
        its decisions depend on that yearly count."""
        for name in datasets:
            d = self.catalog.get(name)
            if d is not None and (d.owner, d.origin, d.data_class) in counts:
                return True
        return False

    def _law(self, dataset: Dataset, job_datasets: list[Dataset], country: str) -> Verdict:
        """The dataset's owner exports it; its subjects count with what the owner already sent
        abroad this year and with the job's other datasets of the same origin and class (those
        already exported this year are in the first sum, and are not counted twice)."""
        owner = self.tenant(dataset.owner)
        same = (dataset.owner, dataset.origin, dataset.data_class)
        subjects = owner.exported_before(dataset.origin, dataset.data_class) + sum(
            d.subjects
            for d in job_datasets
            if (d.owner, d.origin, d.data_class) == same and d.name not in owner.exported_datasets
        )
        transfer = Transfer(dataset.origin, dataset.data_class, country, subjects, owner.ciio)
        day = self.day_in(dataset.origin)
        return self.rules.decide(transfer, owner.held(dataset.origin, country, day), day)
