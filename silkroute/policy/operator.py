"""Operators' own restrictions, written as Cedar policies and evaluated with `cedarpy`.

The request is `Tenant::"T"` doing `Action::"place"` on `Site::"S"` (a member of
`Country::"CC"`), with context `data_classes` and `origins` (sets of strings). A base
`permit` is added, so operators write `forbid` policies only; annotations `@id`, `@reason`
and `@unblock` name the restriction in refusals:

    @id("no-personal-data-at-sg-edge")
    @reason("site sg-edge accepts no personal data")
    forbid (principal, action == Action::"place", resource == Site::"sg-edge")
    when { context.data_classes.containsAny(["personal", "sensitive_personal"]) };
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

import cedarpy

BASE_PERMIT = '@id("base-permit")\npermit (principal, action, resource);\n'
CACHE_LIMIT = 100_000


@dataclass(frozen=True, slots=True)
class OperatorRefusal:
    policy: str  # the @id of the forbid policy
    reason: str
    unblock: str

    @property
    def reason_code(self) -> str:
        return f"operator:{self.policy}"


class OperatorPolicies:
    def __init__(self, text: str, site_countries: Mapping[str, str]) -> None:
        """`text`: Cedar policies; raises ValueError (one line) when they do not parse."""
        source = BASE_PERMIT + text
        try:
            self._policies = cedarpy.PolicySet.from_str(source)
            parsed = json.loads(cedarpy.policies_to_json_str(source))
        except ValueError as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else "parse error"
            raise ValueError(f"not valid Cedar: {first}") from None
        self._annotations: dict[str, dict[str, str]] = {
            pid: body.get("annotations", {}) for pid, body in parsed["staticPolicies"].items()
        }
        self._entities = cedarpy.Entities.from_json_str(
            json.dumps(
                [
                    {
                        "uid": {"type": "Site", "id": site},
                        "attrs": {"country": country},
                        "parents": [{"type": "Country", "id": country}],
                    }
                    for site, country in sorted(site_countries.items())
                ]
            )
        )
        self._cache: dict[tuple[object, ...], OperatorRefusal | None] = {}
        self.text = text

    def check(
        self, tenant: str, site: str, data_classes: frozenset[str], origins: frozenset[str]
    ) -> OperatorRefusal | None:
        """None when no operator restriction forbids placing this work at `site`."""
        key = (tenant, site, data_classes, origins)
        if key in self._cache:
            return self._cache[key]
        if len(self._cache) >= CACHE_LIMIT:
            self._cache.clear()
        request = {
            "principal": {"type": "Tenant", "id": tenant},
            "action": {"type": "Action", "id": "place"},
            "resource": {"type": "Site", "id": site},
            "context": {"data_classes": sorted(data_classes), "origins": sorted(origins)},
        }
        result = cedarpy.is_authorized(request, self._policies, self._entities)
        refusal = None
        if not result.allowed:
            refusal = self._refusal(
                list(result.diagnostics.reasons), list(result.diagnostics.errors)
            )
        self._cache[key] = refusal
        return refusal

    def _refusal(self, reasons: list[str], errors: list[str]) -> OperatorRefusal:
        if not reasons:  # a policy errored; Cedar then denies: say so rather than guess
            detail = "; ".join(str(e) for e in errors) or "no policy permits it"
            return OperatorRefusal(
                "policy-error", f"operator policies failed: {detail}", "fix the operator policies"
            )
        notes = self._annotations.get(sorted(reasons)[0], {})
        policy = notes.get("id", sorted(reasons)[0])
        reason = notes.get("reason", f"operator restriction {policy}")
        unblock = notes.get("unblock", f"ask the operator to lift restriction {policy}")
        return OperatorRefusal(policy, reason, unblock)
