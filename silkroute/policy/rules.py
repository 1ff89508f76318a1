"""The rule-file schema: one file per origin jurisdiction, one list of rules, read top-down.

For a transfer (origin, data class, destination, data subjects, CIIO, date) the first rule of
the origin's file that is in force on the date and whose conditions match decides. Put
exceptions (CIIO, high thresholds) above the general rule for a class.
"""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from silkroute.policy.vocabulary import DataClass, Mechanism, Outcome

COUNTRY = r"^[A-Z]{2}$"


class Conditions(BaseModel):
    """When a rule applies beyond its data classes and destinations. Counts are data subjects
    per tenant per calendar year, cumulative since 1 January: [at_least, below)."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    ciio: bool | None = Field(
        default=None, description="true: only for CIIOs; false: only for others"
    )
    subjects_at_least: int | None = Field(default=None, ge=0)
    subjects_below: int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _ordered(self) -> Conditions:
        low, high = self.subjects_at_least, self.subjects_below
        if low is not None and high is not None and low >= high:
            raise ValueError(f"subjects_at_least ({low}) must be below subjects_below ({high})")
        return self

    def matches(self, subjects: int, ciio: bool) -> bool:
        if self.ciio is not None and self.ciio != ciio:
            return False
        if self.subjects_at_least is not None and subjects < self.subjects_at_least:
            return False
        return self.subjects_below is None or subjects < self.subjects_below


class Rule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    id: str = Field(pattern=r"^[A-Z]{2}-[A-Z0-9][A-Z0-9-]*$", description="Stable, cited in logs")
    data_classes: tuple[DataClass, ...] = Field(min_length=1)
    destinations: tuple[str, ...] | None = Field(
        default=None, description="ISO country codes; absent = every destination"
    )
    except_destinations: tuple[str, ...] = ()
    when: Conditions = Conditions()
    outcome: Outcome
    requires_any: tuple[tuple[Mechanism, ...], ...] = Field(
        default=(), description="Alternatives; each is a set of mechanisms needed together"
    )
    legal_basis: str = Field(min_length=3, description="Article and instrument relied on")
    source: str = Field(pattern=r"^https?://", description="Where a reviewer reads the text")
    effective_from: dt.date
    effective_until: dt.date | None = Field(default=None, description="Last day in force")
    uncertain: bool = False
    note: str = ""

    @field_validator("destinations", "except_destinations")
    @classmethod
    def _countries(cls, value: tuple[str, ...] | None) -> tuple[str, ...] | None:
        for code in value or ():
            if not re.match(COUNTRY, code):
                raise ValueError(f"{code!r} is not an ISO 3166-1 alpha-2 country code")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Rule:
        if self.outcome is Outcome.REQUIRES and not self.requires_any:
            raise ValueError("outcome 'requires' needs requires_any (which mechanisms satisfy it)")
        if self.outcome is not Outcome.REQUIRES and self.requires_any:
            raise ValueError(f"outcome {self.outcome.value!r} takes no requires_any")
        if any(not group for group in self.requires_any):
            raise ValueError("requires_any has an empty alternative")
        if self.effective_until is not None and self.effective_until < self.effective_from:
            raise ValueError("effective_until is before effective_from")
        return self

    def in_force(self, on: dt.date) -> bool:
        return self.effective_from <= on and (
            self.effective_until is None or on <= self.effective_until
        )

    def covers(self, data_class: DataClass, destination: str, subjects: int, ciio: bool) -> bool:
        if data_class not in self.data_classes:
            return False
        if self.destinations is not None and destination not in self.destinations:
            return False
        if destination in self.except_destinations:
            return False
        return self.when.matches(subjects, ciio)


class JurisdictionRules(BaseModel):
    """One rule file."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    jurisdiction: str = Field(pattern=COUNTRY)
    name: str = Field(min_length=1)
    timezone: str = Field(
        description="IANA zone of the law's calendar: rules take effect, and the yearly count of"
        " data subjects restarts, at local midnight"
    )
    version: str = Field(min_length=1, description="Bumped by the reviewer on every change")
    reviewed: dt.date
    reviewer_note: str = ""
    rules: tuple[Rule, ...] = Field(min_length=1)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value!r} is not an IANA time zone (e.g. Asia/Shanghai)") from None
        return value

    def local_day(self, now: dt.datetime) -> dt.date:
        """The date in this jurisdiction at the instant `now` (timezone-aware)."""
        return now.astimezone(zoneinfo.ZoneInfo(self.timezone)).date()

    @model_validator(mode="after")
    def _rules_belong(self) -> JurisdictionRules:
        seen: set[str] = set()
        for rule in self.rules:
            if not rule.id.startswith(self.jurisdiction + "-"):
                raise ValueError(f"rule {rule.id} must start with {self.jurisdiction}-")
            if rule.id in seen:
                raise ValueError(f"rule id {rule.id} appears twice")
            seen.add(rule.id)
        gap = _first_gap(self.rules)
        if gap:
            raise ValueError(gap)
        return self


def _first_gap(rules: tuple[Rule, ...]) -> str | None:
    """The first transfer no rule decides, from the day a class's first rule takes effect:
    checked at every date, threshold and destination where the answer can change."""
    for data_class in DataClass:
        mine = [r for r in rules if data_class in r.data_classes]
        if not mine:
            return f"no rule for {data_class.value} data"
        start = min(r.effective_from for r in mine)
        dates = {start} | {r.effective_from for r in mine}
        dates |= {r.effective_until + dt.timedelta(days=1) for r in mine if r.effective_until}
        counts = {0} | {
            n for r in mine for n in (r.when.subjects_at_least, r.when.subjects_below) if n
        }
        places = {"ZZ"} | {
            c for r in mine for c in (*(r.destinations or ()), *r.except_destinations)
        }
        for on in sorted(d for d in dates if d >= start):
            for subjects in sorted(counts):
                for ciio in (False, True):
                    for place in sorted(places):
                        if not any(
                            r.in_force(on) and r.covers(data_class, place, subjects, ciio)
                            for r in mine
                        ):
                            return (
                                f"no rule decides {data_class.value} data to {place} on {on} "
                                f"({subjects} subjects, ciio={str(ciio).lower()})"
                            )
    return None
