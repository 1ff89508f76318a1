"""One pure decision: may this data go from its origin to this destination, today, for this
tenant? Reads no files and no clock; the rule book is loaded once by `loader`."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from silkroute.policy.rules import JurisdictionRules, Rule
from silkroute.policy.vocabulary import DataClass, Mechanism, Outcome

ALLOW = "allow"
DENY = "deny"
CACHE_LIMIT = 100_000  # distinct keys kept; the cache starts over when full (bounded memory)


@dataclass(frozen=True, slots=True)
class Transfer:
    """What moves: `subjects` counts data subjects this tenant sends abroad from `origin` in
    the calendar year, this transfer included (China counts cumulatively since 1 January)."""

    origin: str
    data_class: DataClass
    destination: str
    subjects: int = 0
    ciio: bool = False


@dataclass(frozen=True, slots=True)
class Verdict:
    verdict: str  # "allow" or "deny"
    rule: str  # rule id, or "domestic" / "no-rule"
    legal_basis: str
    source: str = ""
    unblock: str | None = None  # what would turn a deny into an allow
    uncertain: bool = False
    satisfied_by: tuple[Mechanism, ...] = ()  # the mechanisms that made a "requires" allow
    note: str = ""

    @property
    def allowed(self) -> bool:
        return self.verdict == ALLOW

    @property
    def reason_code(self) -> str:
        return f"data-law:{self.rule}"

    def as_json(self) -> dict[str, object]:
        return {
            "verdict": self.verdict,
            "rule": self.rule,
            "legal_basis": self.legal_basis,
            "source": self.source,
            "unblock": self.unblock,
            "uncertain": self.uncertain,
            "satisfied_by": [m.value for m in self.satisfied_by],
            "note": self.note,
        }


class RuleBook:
    """Every jurisdiction's rules, with a version that changes whenever any file changes."""

    def __init__(self, files: Iterable[JurisdictionRules], version: str) -> None:
        self.files = {f.jurisdiction: f for f in files}
        self.version = version
        self._cache: dict[tuple[Transfer, frozenset[Mechanism], dt.date], Verdict] = {}

    @property
    def jurisdictions(self) -> list[str]:
        return sorted(self.files)

    def local_days(self, now: dt.datetime) -> dict[str, dt.date]:
        """Each jurisdiction's own date at the instant `now`: its rules and its yearly count
        follow its calendar (1 January in Beijing is 16:00 UTC on 31 December)."""
        return {code: f.local_day(now) for code, f in self.files.items()}

    def rule(self, rule_id: str) -> Rule | None:
        origin = self.files.get(rule_id[:2])
        return next((r for r in origin.rules if r.id == rule_id), None) if origin else None

    def decide(self, transfer: Transfer, held: frozenset[Mechanism], on: dt.date) -> Verdict:
        """Cached per distinct (transfer, mechanisms held, date); the book is immutable."""
        key = (transfer, held, on)
        found = self._cache.get(key)
        if found is None:
            if len(self._cache) >= CACHE_LIMIT:
                self._cache.clear()
            found = self._cache[key] = decide(self, transfer, held, on)
        return found


def decide(book: RuleBook, transfer: Transfer, held: frozenset[Mechanism], on: dt.date) -> Verdict:
    """The first rule of the origin's file in force on `on` that covers the transfer decides."""
    if transfer.origin == transfer.destination:
        return Verdict(ALLOW, "domestic", "not a cross-border transfer")
    if transfer.data_class is DataClass.PUBLIC and transfer.origin not in book.files:
        return Verdict(ALLOW, "no-rule", "public data from an origin without rules")
    origin = book.files.get(transfer.origin)
    rule = None
    if origin is not None:
        rule = next(
            (
                r
                for r in origin.rules
                if r.in_force(on)
                and r.covers(
                    transfer.data_class, transfer.destination, transfer.subjects, transfer.ciio
                )
            ),
            None,
        )
    if rule is None:
        return Verdict(
            DENY,
            "no-rule",
            f"no rule of {transfer.origin} in force on {on} covers "
            f"{transfer.data_class.value} data to {transfer.destination}",
            unblock=f"a reviewer adds a rule for {transfer.origin} "
            f"{transfer.data_class.value} data, or run in {transfer.origin}",
        )
    return _apply(rule, transfer, held)


def _apply(rule: Rule, transfer: Transfer, held: frozenset[Mechanism]) -> Verdict:
    if rule.outcome is Outcome.ALLOWED:
        return _verdict(ALLOW, rule)
    if rule.outcome is Outcome.PROHIBITED:
        unblock = f"none by any mechanism: run at a site in {transfer.origin} (localisation)"
        return _verdict(DENY, rule, unblock)
    for group in rule.requires_any:
        if held.issuperset(group):
            return _verdict(ALLOW, rule, satisfied_by=group)
    options = " or ".join("+".join(m.value for m in group) for group in rule.requires_any)
    return _verdict(DENY, rule, f"hold {options} for {transfer.origin}->{transfer.destination}")


def _verdict(
    verdict: str, rule: Rule, unblock: str | None = None, satisfied_by: tuple[Mechanism, ...] = ()
) -> Verdict:
    return Verdict(
        verdict,
        rule.id,
        rule.legal_basis,
        rule.source,
        unblock,
        rule.uncertain,
        satisfied_by,
        rule.note,
    )
