"""The cases a lawyer checks first, one table per jurisdiction, against the shipped rule files."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pytest

from silkroute.policy.engine import RuleBook, Transfer, decide
from silkroute.policy.loader import load_rules
from silkroute.policy.vocabulary import JURISDICTIONS, DataClass, Mechanism

TODAY = dt.date(2026, 11, 30)


@dataclass(frozen=True)
class Case:
    sentence: str
    origin: str
    data_class: str
    destination: str
    verdict: str
    rule: str
    subjects: int = 0
    held: str = ""
    on: dt.date = TODAY
    ciio: bool = False


CASES = [
    # ---- China: thresholds of the 2024 Provisions, CIIO, important and core data
    Case(
        "CN personal, 50k subjects, no mechanism: under the exemption",
        "CN",
        "personal",
        "TH",
        "allow",
        "CN-2024-PI-EXEMPT",
        subjects=50_000,
    ),
    Case(
        "CN personal, 99,999 subjects: still exempt",
        "CN",
        "personal",
        "SG",
        "allow",
        "CN-2024-PI-EXEMPT",
        subjects=99_999,
    ),
    Case(
        "CN personal, exactly 100,000 subjects: the contract tier starts",
        "CN",
        "personal",
        "SG",
        "deny",
        "CN-2024-PI-CONTRACT",
        subjects=100_000,
    ),
    Case(
        "CN personal, 500k subjects, no mechanism",
        "CN",
        "personal",
        "TH",
        "deny",
        "CN-2024-PI-CONTRACT",
        subjects=500_000,
    ),
    Case(
        "CN personal, 500k subjects, filed standard contract",
        "CN",
        "personal",
        "TH",
        "allow",
        "CN-2024-PI-CONTRACT",
        subjects=500_000,
        held="scc,cac_filing",
    ),
    Case(
        "CN personal, 500k subjects, contract not filed with the CAC",
        "CN",
        "personal",
        "TH",
        "deny",
        "CN-2024-PI-CONTRACT",
        subjects=500_000,
        held="scc",
    ),
    Case(
        "CN personal, 500k subjects, PI protection certification",
        "CN",
        "personal",
        "MY",
        "allow",
        "CN-2024-PI-CONTRACT",
        subjects=500_000,
        held="certification",
    ),
    Case(
        "CN personal, 1.2M subjects, filed contract is not enough",
        "CN",
        "personal",
        "TH",
        "deny",
        "CN-2024-PI-ASSESSMENT",
        subjects=1_200_000,
        held="scc,cac_filing",
    ),
    Case(
        "CN personal, 1.2M subjects, CAC security assessment passed",
        "CN",
        "personal",
        "TH",
        "allow",
        "CN-2024-PI-ASSESSMENT",
        subjects=1_200_000,
        held="cac_assessment",
    ),
    Case(
        "CN sensitive personal, 9,999 subjects: contract tier",
        "CN",
        "sensitive_personal",
        "SG",
        "allow",
        "CN-2024-SPI-CONTRACT",
        subjects=9_999,
        held="scc,cac_filing",
    ),
    Case(
        "CN sensitive personal, 10,000 subjects: assessment",
        "CN",
        "sensitive_personal",
        "SG",
        "deny",
        "CN-2024-SPI-ASSESSMENT",
        subjects=10_000,
        held="scc,cac_filing",
    ),
    Case(
        "CN important data to Thailand without assessment",
        "CN",
        "important",
        "TH",
        "deny",
        "CN-IMPORTANT-ASSESSMENT",
    ),
    Case(
        "CN important data to Thailand with CAC assessment",
        "CN",
        "important",
        "TH",
        "allow",
        "CN-IMPORTANT-ASSESSMENT",
        held="cac_assessment",
    ),
    Case(
        "CN core data: prohibited whatever is held",
        "CN",
        "core",
        "SG",
        "deny",
        "CN-DSL-CORE",
        held=",".join(m.value for m in Mechanism),
    ),
    Case(
        "CN personal from a CIIO, 10 subjects: assessment always",
        "CN",
        "personal",
        "SG",
        "deny",
        "CN-CIIO-ASSESSMENT",
        subjects=10,
        held="scc,cac_filing",
        ciio=True,
    ),
    Case(
        "CN public data from a CIIO: allowed", "CN", "public", "SG", "allow", "CN-PUBLIC", ciio=True
    ),
    Case(
        "CN personal 500k in 2023 under the 2022 Measures: assessment",
        "CN",
        "personal",
        "TH",
        "deny",
        "CN-2022-PI-ASSESSMENT",
        subjects=500_000,
        held="scc,cac_filing",
        on=dt.date(2023, 8, 1),
    ),
    Case("CN personal inside China: not a transfer", "CN", "core", "CN", "allow", "domestic"),
    Case(
        "Vietnam's assessment never satisfies China",
        "CN",
        "important",
        "VN",
        "deny",
        "CN-IMPORTANT-ASSESSMENT",
        held="mps_assessment,tia",
    ),
    # ---- Vietnam
    Case(
        "VN personal to Singapore without a TIA", "VN", "personal", "SG", "deny", "VN-PDPL-PERSONAL"
    ),
    Case(
        "VN personal to Singapore with a TIA",
        "VN",
        "personal",
        "SG",
        "allow",
        "VN-PDPL-PERSONAL",
        held="tia",
    ),
    Case(
        "VN personal in 2024 falls under Decree 13",
        "VN",
        "personal",
        "SG",
        "deny",
        "VN-DECREE13-PERSONAL",
        on=dt.date(2024, 5, 1),
    ),
    Case(
        "VN sensitive personal with a TIA",
        "VN",
        "sensitive_personal",
        "TH",
        "allow",
        "VN-PDPL-PERSONAL",
        held="tia",
    ),
    Case(
        "China's CAC assessment never satisfies Vietnam",
        "VN",
        "important",
        "CN",
        "deny",
        "VN-DATA-LAW-IMPORTANT",
        held="cac_assessment",
    ),
    Case(
        "VN important with MPS assessment",
        "VN",
        "important",
        "SG",
        "allow",
        "VN-DATA-LAW-IMPORTANT",
        held="mps_assessment",
    ),
    Case(
        "VN core data is localised",
        "VN",
        "core",
        "SG",
        "deny",
        "VN-DATA-LAW-CORE",
        held="mps_assessment",
    ),
    Case(
        "VN personal before any rule: fail closed",
        "VN",
        "personal",
        "SG",
        "deny",
        "no-rule",
        on=dt.date(2020, 1, 1),
    ),
    # ---- Singapore
    Case("SG personal without adequacy or contract", "SG", "personal", "VN", "deny", "SG-PDPA-S26"),
    Case("SG personal with a contract", "SG", "personal", "VN", "allow", "SG-PDPA-S26", held="scc"),
    Case(
        "SG personal to a destination with comparable law",
        "SG",
        "personal",
        "MY",
        "allow",
        "SG-PDPA-S26",
        held="adequacy",
    ),
    Case(
        "SG personal under ASEAN Model Contractual Clauses",
        "SG",
        "personal",
        "ID",
        "allow",
        "SG-PDPA-S26",
        held="asean_mcc",
    ),
    # ---- Thailand
    Case("TH personal without safeguards", "TH", "personal", "SG", "deny", "TH-PDPA-S28-S29"),
    Case(
        "TH personal under binding corporate rules",
        "TH",
        "personal",
        "SG",
        "allow",
        "TH-PDPA-S28-S29",
        held="bcr",
    ),
    Case(
        "TH personal by contract before the 2024 notifications: not yet a route",
        "TH",
        "personal",
        "SG",
        "deny",
        "TH-PDPA-S28-2022",
        held="scc",
        on=dt.date(2023, 6, 1),
    ),
    # ---- Malaysia
    Case(
        "MY personal relying on adequacy needs a TIA too",
        "MY",
        "personal",
        "SG",
        "deny",
        "MY-PDPA-S129-2025",
        held="adequacy",
    ),
    Case(
        "MY personal with adequacy and a TIA",
        "MY",
        "personal",
        "SG",
        "allow",
        "MY-PDPA-S129-2025",
        held="adequacy,tia",
    ),
    Case(
        "MY personal with consent",
        "MY",
        "personal",
        "CN",
        "allow",
        "MY-PDPA-S129-2025",
        held="consent",
    ),
    # ---- Indonesia
    Case(
        "ID personal without safeguards or consent", "ID", "personal", "SG", "deny", "ID-PDP-ART56"
    ),
    Case(
        "ID personal with standard clauses",
        "ID",
        "personal",
        "SG",
        "allow",
        "ID-PDP-ART56",
        held="scc",
    ),
    # ---- Philippines
    Case("PH personal without a contract", "PH", "personal", "SG", "deny", "PH-DPA-S21"),
    Case("PH personal with a contract", "PH", "personal", "SG", "allow", "PH-DPA-S21", held="scc"),
    # ---- Brunei
    Case(
        "BN personal before the PDPO took effect",
        "BN",
        "personal",
        "SG",
        "allow",
        "BN-NO-GENERAL-LAW",
        on=dt.date(2025, 6, 1),
    ),
    Case(
        "BN personal under the PDPO without safeguards",
        "BN",
        "personal",
        "SG",
        "deny",
        "BN-PDPO-2025-TLO",
    ),
    Case(
        "BN personal under the PDPO with consent",
        "BN",
        "personal",
        "SG",
        "allow",
        "BN-PDPO-2025-TLO",
        held="consent",
    ),
    # ---- Cambodia, Laos, Myanmar (thin laws, uncertain rules)
    Case(
        "KH personal: no general restriction", "KH", "personal", "TH", "allow", "KH-NO-GENERAL-LAW"
    ),
    Case("LA personal without consent", "LA", "personal", "TH", "deny", "LA-EDP-CONSENT"),
    Case(
        "LA personal with consent",
        "LA",
        "personal",
        "TH",
        "allow",
        "LA-EDP-CONSENT",
        held="consent",
    ),
    Case("MM personal without consent", "MM", "personal", "TH", "deny", "MM-ETL-CONSENT"),
]
# Public data goes anywhere, from every origin.
CASES += [
    Case(f"{o} public data to {d}", o, "public", d, "allow", f"{o}-PUBLIC")
    for o in JURISDICTIONS
    for d in ("CN", "SG", "US")
    if o != d
]


@pytest.fixture(scope="module")
def book() -> RuleBook:
    return load_rules()


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.sentence)
def test_lawyer_case(book: RuleBook, case: Case) -> None:
    held = frozenset(Mechanism(m) for m in case.held.split(",") if m)
    transfer = Transfer(
        case.origin, DataClass(case.data_class), case.destination, case.subjects, case.ciio
    )
    verdict = decide(book, transfer, held, case.on)
    assert (verdict.verdict, verdict.rule) == (case.verdict, case.rule), verdict
    if verdict.verdict == "deny":
        assert verdict.unblock, "a deny always says what would unblock it"
    if case.rule not in ("domestic", "no-rule"):
        assert verdict.legal_basis and verdict.source.startswith("http")
    # The cached path gives the same answer as the direct one.
    assert book.decide(transfer, held, case.on) == verdict


def test_every_jurisdiction_has_a_table_case() -> None:
    tested = {c.origin for c in CASES if c.data_class != "public"}
    assert tested == set(JURISDICTIONS)


def test_a_deny_names_the_mechanisms_that_would_unblock_it(book: RuleBook) -> None:
    verdict = decide(book, Transfer("CN", DataClass.PERSONAL, "TH", 500_000), frozenset(), TODAY)
    assert verdict.unblock is not None
    for word in ("scc+cac_filing", "certification", "cac_assessment"):
        assert word in verdict.unblock


def test_uncertain_rules_say_so(book: RuleBook) -> None:
    verdict = decide(book, Transfer("KH", DataClass.PERSONAL, "TH"), frozenset(), TODAY)
    assert verdict.uncertain
    verdict = decide(book, Transfer("SG", DataClass.PERSONAL, "TH"), frozenset(), TODAY)
    assert not verdict.uncertain


def test_every_rule_cites_a_source_and_a_date(book: RuleBook) -> None:
    for rules in book.files.values():
        for rule in rules.rules:
            assert rule.source.startswith("http") and len(rule.legal_basis) > 10, rule.id
            assert rule.effective_from <= TODAY
