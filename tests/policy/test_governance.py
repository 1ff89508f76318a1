"""Law and operator restrictions together: deny wins, every refusal names what and why."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from silkroute.policy.catalog import Dataset, DatasetCatalog, Grant, TenantCompliance
from silkroute.policy.governance import Governance
from silkroute.policy.loader import load_rules
from silkroute.policy.operator import OperatorPolicies
from silkroute.policy.vocabulary import DataClass, Mechanism

ON = dt.date(2026, 6, 1)
SITES = {"nanning": "CN", "singapore": "SG", "bangkok": "TH", "hanoi": "VN"}
RULES = load_rules()
CATALOG = DatasetCatalog(
    [
        Dataset("vn-health", "acme", "VN", DataClass.PERSONAL, 20_000),
        Dataset("cn-users-a", "acme", "CN", DataClass.PERSONAL, 60_000),
        Dataset("cn-users-b", "acme", "CN", DataClass.PERSONAL, 60_000),
        Dataset("cn-maps", "acme", "CN", DataClass.IMPORTANT, 0),
        Dataset("udhr", "acme", "SG", DataClass.PUBLIC),
    ]
)
OPERATOR = """
@id("no-personal-data-at-bangkok")
@reason("site bangkok accepts no personal data")
forbid (principal, action == Action::"place", resource == Site::"bangkok")
when { context.data_classes.containsAny(["personal", "sensitive_personal"]) };

@id("beta-barred-from-singapore")
@reason("tenant beta is barred from singapore")
@unblock("settle the operator's dispute with beta")
forbid (principal == Tenant::"beta", action, resource == Site::"singapore");
"""


def governance(**changes: object) -> Governance:
    base = Governance(RULES, CATALOG, ON, operator=OperatorPolicies(OPERATOR, SITES))
    return base.replace(**changes) if changes else base


def test_law_denies_and_names_dataset_rule_and_unblock() -> None:
    decision = governance().check("acme", ("vn-health",), "singapore", "SG")
    assert not decision.allowed
    (refusal,) = decision.refusals
    assert refusal.code == "data-law:VN-PDPL-PERSONAL"
    assert "dataset vn-health" in refusal.message and "hold tia for VN->SG" in refusal.message


def test_a_grant_for_the_destination_unblocks_only_that_destination() -> None:
    grant = Grant(Mechanism.TIA, origin="VN", destinations=frozenset({"SG"}), reference="A05-1")
    g = governance(compliance={"acme": TenantCompliance("acme", (grant,))})
    assert g.check("acme", ("vn-health",), "singapore", "SG").allowed
    assert not g.check("acme", ("vn-health",), "nanning", "CN").allowed


def test_an_expired_grant_does_not_count() -> None:
    grant = Grant(Mechanism.TIA, origin="VN", valid_until=dt.date(2026, 5, 31))
    g = governance(compliance={"acme": TenantCompliance("acme", (grant,))})
    assert not g.check("acme", ("vn-health",), "singapore", "SG").allowed


def test_splitting_a_dataset_does_not_escape_the_threshold() -> None:
    g = governance()
    # Each half alone is under 100,000 subjects; together they are 120,000.
    assert g.check("acme", ("cn-users-a",), "singapore", "SG").allowed
    both = g.check("acme", ("cn-users-a", "cn-users-b"), "singapore", "SG")
    assert {r.rule for r in both.refusals} == {"CN-2024-PI-CONTRACT"}


def test_subjects_already_sent_this_year_count() -> None:
    sent = TenantCompliance("acme", exported={("CN", DataClass.PERSONAL): 50_000})
    g = governance(compliance={"acme": sent})
    refusals = g.check("acme", ("cn-users-a",), "singapore", "SG").refusals
    assert [r.rule for r in refusals] == ["CN-2024-PI-CONTRACT"]


def test_ciio_flag_of_the_owner_applies() -> None:
    g = governance(compliance={"acme": TenantCompliance("acme", ciio=True)})
    refusals = g.check("acme", ("cn-users-a",), "singapore", "SG").refusals
    assert [r.rule for r in refusals] == ["CN-CIIO-ASSESSMENT"]


def test_operator_forbids_personal_data_at_a_site_though_the_law_allows() -> None:
    grant = Grant(Mechanism.TIA, origin="VN")
    g = governance(compliance={"acme": TenantCompliance("acme", (grant,))})
    decision = g.check("acme", ("vn-health",), "bangkok", "TH")
    assert [r.code for r in decision.refusals] == ["operator:no-personal-data-at-bangkok"]
    assert "accepts no personal data" in decision.refusals[0].message
    assert g.check("acme", ("udhr",), "bangkok", "TH").allowed


def test_operator_bars_a_tenant_from_a_site_even_without_data() -> None:
    g = governance()
    refusal = g.check("beta", (), "singapore", "SG").refusals[0]
    assert refusal.code == "operator:beta-barred-from-singapore"
    assert "settle the operator's dispute" in refusal.unblock
    assert g.check("beta", (), "hanoi", "VN").allowed


def test_deny_wins_and_every_refusal_is_kept() -> None:
    decision = governance().check("beta", ("cn-maps", "vn-health"), "singapore", "SG")
    codes = [r.code for r in decision.refusals]
    assert codes == [
        "data-law:CN-IMPORTANT-ASSESSMENT",
        "data-law:VN-PDPL-PERSONAL",
        "operator:beta-barred-from-singapore",
    ]


def test_an_unknown_dataset_is_refused_everywhere() -> None:
    refusal = governance().check("acme", ("nope",), "nanning", "CN").refusals[0]
    assert refusal.code == "data-law:unknown-dataset" and "register dataset nope" in refusal.unblock


def test_domestic_processing_is_always_lawful() -> None:
    assert governance().check("acme", ("cn-maps", "cn-users-a"), "nanning", "CN").allowed


def test_bad_cedar_is_one_line() -> None:
    with pytest.raises(ValueError, match=r"^not valid Cedar: ") as info:
        OperatorPolicies("forbid (principal, action, resource) when { context.x = };", SITES)
    assert "\n" not in str(info.value)


def test_decisions_are_cached_per_key_and_dropped_on_replace() -> None:
    g = governance()
    first = g.check("acme", ("vn-health",), "singapore", "SG")
    assert g.check("acme", ("vn-health",), "singapore", "SG") is first
    later = g.replace(on=dt.date(2025, 6, 1))
    assert later.check("acme", ("vn-health",), "singapore", "SG").refusals[0].rule == (
        "VN-DECREE13-PERSONAL"
    )


def test_explain_lists_every_site_with_its_reasons() -> None:
    from silkroute.policy.explain import as_json, explain, render

    grant = Grant(Mechanism.TIA, origin="VN", destinations=frozenset({"SG"}))
    g = governance(compliance={"acme": TenantCompliance("acme", (grant,))})
    decisions = explain(g, "acme", ("vn-health", "cn-users-a"), SITES)
    lines = render(decisions)
    assert lines[0] == "allow hanoi (VN)  [vn-health by domestic; cn-users-a by CN-2024-PI-EXEMPT]"
    assert lines[1].startswith("allow singapore (SG)  [vn-health by VN-PDPL-PERSONAL (tia)")
    assert [d.site for d in decisions if not d.allowed] == ["bangkok", "nanning"]
    assert any("operator:no-personal-data-at-bangkok" in line for line in lines)
    body = as_json(decisions[-1])
    assert body["site"] == "nanning" and body["verdict"] == "deny"
    assert body["refusals"][0]["rule"] == "VN-PDPL-PERSONAL"


def test_a_data_decision_goes_into_the_audit_log_and_verifies() -> None:
    from silkroute.audit.log import AuditLog, new_key, verify
    from silkroute.audit.store import MemoryAuditStore
    from silkroute.policy.explain import audit_detail, explain

    g = governance()
    decisions = explain(g, "acme", ("vn-health",), SITES)
    key = new_key()
    log = AuditLog(MemoryAuditStore(), key)
    record = log.append(
        "data-decision", "scheduler", "job/7", audit_detail(g, "acme", ("vn-health",), decisions)
    )
    log.checkpoint()
    verify(log.store, key.public_key())
    assert record.detail["rules_version"] == RULES.version
    assert {s["site"]: s["verdict"] for s in record.detail["sites"]} == {
        "hanoi": "allow",
        "bangkok": "deny",
        "nanning": "deny",
        "singapore": "deny",
    }


def test_the_cedar_examples_in_the_docs_work() -> None:
    import re
    from pathlib import Path

    docs = Path(__file__).resolve().parents[2] / "docs" / "governance.md"
    match = re.search(r"```cedar\n(.*?)```", docs.read_text(), re.S)
    assert match is not None
    op = OperatorPolicies(match.group(1), {"jakarta": "ID", "singapore": "SG", "bangkok": "TH"})
    personal, public = frozenset({"personal"}), frozenset({"public"})
    assert op.check("acme", "jakarta", personal, frozenset({"SG"})) is not None
    assert op.check("acme", "jakarta", public, frozenset({"SG"})) is None
    assert op.check("beta", "singapore", public, frozenset()) is not None
    refusal = op.check("acme", "bangkok", public, frozenset({"VN"}))
    assert refusal is not None and refusal.policy == "no-vn-data-in-country-x"


def test_operator_policy_files_load_or_fail_in_one_line(tmp_path: Path) -> None:
    from silkroute.model.errors import SpecError
    from silkroute.policy.loader import load_operator_policies

    good = tmp_path / "ops.cedar"
    good.write_text(OPERATOR)
    assert load_operator_policies(good, SITES).check("beta", "singapore", frozenset(), frozenset())
    bad = tmp_path / "bad.cedar"
    bad.write_text("forbid (principal, action resource);")
    with pytest.raises(SpecError) as info:
        load_operator_policies(bad, SITES)
    assert str(info.value).startswith(f"{bad}: not valid Cedar:") and "\n" not in str(info.value)
    with pytest.raises(SpecError, match="cannot read operator policies"):
        load_operator_policies(tmp_path / "missing.cedar", SITES)
