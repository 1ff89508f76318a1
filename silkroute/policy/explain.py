"""Per site: may this job's data go there, and why. The core of `silkroute explain JOB`
(the control plane adds the job lookup) and of the data-decision audit record."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from silkroute.policy.governance import Governance, SiteDecision


def explain(
    governance: Governance, tenant: str, datasets: tuple[str, ...], sites: Mapping[str, str]
) -> list[SiteDecision]:
    """One decision per site (name -> country), allowed sites first, then by name."""
    decisions = [governance.check(tenant, datasets, s, c) for s, c in sites.items()]
    return sorted(decisions, key=lambda d: (not d.allowed, d.site))


def as_json(decision: SiteDecision) -> dict[str, Any]:
    """JSON for an API answer or an audit record's detail."""
    return {
        "site": decision.site,
        "country": decision.country,
        "verdict": "allow" if decision.allowed else "deny",
        "refusals": [
            {
                "code": r.code,
                "dataset": r.dataset,
                "rule": r.rule,
                "legal_basis": r.legal_basis,
                "unblock": r.unblock,
                "uncertain": r.uncertain,
            }
            for r in decision.refusals
        ],
        "datasets": {
            name: {
                "verdict": v.verdict,
                "rule": v.rule,
                "satisfied_by": [m.value for m in v.satisfied_by],
            }
            for name, v in decision.verdicts
        },
    }


def render(decisions: list[SiteDecision]) -> list[str]:
    """Plain lines for a terminal: one per site, then one per refusal."""
    lines = []
    for decision in decisions:
        verdict = "allow" if decision.allowed else "deny "
        used = [
            f"{name} by {v.rule}" + (f" ({'+'.join(v.satisfied_by)})" if v.satisfied_by else "")
            for name, v in decision.verdicts
            if v.allowed
        ]
        why = f"  [{'; '.join(used)}]" if decision.allowed and used else ""
        lines.append(f"{verdict} {decision.site} ({decision.country}){why}")
        for refusal in decision.refusals:
            lines.append(f"        {refusal.code}: {refusal.message}")
    return lines


def audit_detail(
    governance: Governance, tenant: str, datasets: tuple[str, ...], decisions: list[SiteDecision]
) -> dict[str, Any]:
    """The `detail` of a `data-decision` audit record: enough to replay the decision later
    (rules version and date, the tenant's datasets, every site's verdict and reasons)."""
    return {
        "tenant": tenant,
        "datasets": list(datasets),
        "rules_version": governance.rules.version,
        "date": governance.on.isoformat(),
        "sites": [as_json(d) for d in decisions],
    }
