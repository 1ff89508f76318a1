"""The fixed words that rule files, tenants' compliance records and the scheduler share."""

from __future__ import annotations

from enum import StrEnum


class DataClass(StrEnum):
    PUBLIC = "public"
    PERSONAL = "personal"
    SENSITIVE_PERSONAL = "sensitive_personal"
    IMPORTANT = "important"
    CORE = "core"


class Mechanism(StrEnum):
    """A legal instrument a tenant holds that can make a transfer lawful.

    A rule names which of these satisfy it, so one jurisdiction's instrument never satisfies
    another's (China's `cac_assessment` means nothing to Vietnam).
    """

    CONSENT = "consent"  # data subjects' (separate) consent to the transfer, on record
    SCC = "scc"  # the origin's standard contract, filed where the origin requires
    ASEAN_MCC = "asean_mcc"  # ASEAN Model Contractual Clauses
    BCR = "bcr"  # binding corporate rules approved where required
    CERTIFICATION = "certification"  # e.g. China's PI protection certification, APEC CBPR
    ADEQUACY = "adequacy"  # an adequacy finding for the destination, on record
    TIA = "tia"  # transfer impact assessment (Vietnam's dossier filed with MPS)
    CAC_FILING = "cac_filing"  # China: standard contract filed with the provincial CAC
    CAC_ASSESSMENT = "cac_assessment"  # China: CAC security assessment passed
    MPS_ASSESSMENT = "mps_assessment"  # Vietnam: Ministry of Public Security assessment


class Outcome(StrEnum):
    ALLOWED = "allowed"
    REQUIRES = "requires"  # allowed when the tenant holds one of `requires_any`
    PROHIBITED = "prohibited"  # localisation: the data must stay in the origin


# China and the ten ASEAN member states: the origins the centre ships rule files for.
JURISDICTIONS: dict[str, str] = {
    "CN": "People's Republic of China",
    "BN": "Brunei Darussalam",
    "KH": "Kingdom of Cambodia",
    "ID": "Republic of Indonesia",
    "LA": "Lao People's Democratic Republic",
    "MY": "Malaysia",
    "MM": "Republic of the Union of Myanmar",
    "PH": "Republic of the Philippines",
    "SG": "Republic of Singapore",
    "TH": "Kingdom of Thailand",
    "VN": "Socialist Republic of Vietnam",
}
