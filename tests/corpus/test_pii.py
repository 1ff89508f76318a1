from __future__ import annotations

import pytest

from silkroute.corpus.pii import PiiRedactor
from silkroute.corpus.pii import national_ids as ids


def thai_id_with_check(first12: str) -> str:
    total = sum(int(d) * (13 - i) for i, d in enumerate(first12))
    return first12 + str((11 - total % 11) % 10)


VALID_TH = thai_id_with_check("110170023000")
THAI_DIGITS = str.maketrans("0123456789", "๐๑๒๓๔๕๖๗๘๙")
INVALID_TH = VALID_TH[:-1] + str((int(VALID_TH[-1]) + 1) % 10)


@pytest.mark.parametrize(
    ("name", "check", "value", "want"),
    [
        ("thai id with right check digit", ids.thai_citizen_id, VALID_TH, True),
        ("thai id with wrong check digit", ids.thai_citizen_id, INVALID_TH, False),
        ("nric S1234567D is valid", ids.singapore_nric, "S1234567D", True),
        ("nric S1234567A is not", ids.singapore_nric, "S1234567A", False),
        ("fin G1234567X is valid", ids.singapore_nric, "G1234567X", True),
        ("mykad with a real date and state", ids.malaysia_mykad, "900101-14-5678", True),
        ("mykad with month 13", ids.malaysia_mykad, "901301-14-5678", False),
        ("mykad with unused place code", ids.malaysia_mykad, "900101-17-5678", False),
        ("nik of a woman (day+40)", ids.indonesia_nik, "3171015101900001", True),
        ("nik with province 99", ids.indonesia_nik, "9971014101900001", False),
        ("cccd from hanoi (001)", ids.vietnam_cccd, "001099012345", True),
        ("cccd with unknown province", ids.vietnam_cccd, "003099012345", False),
        ("philsys number", ids.philippine_id, "1234-5678-9012", True),
        ("not a philippine shape", ids.philippine_id, "12-34-56", False),
    ],
)
def test_national_id_validators(name: str, check: object, value: str, want: bool) -> None:
    assert check(value) is want, name  # type: ignore[operator]


@pytest.mark.parametrize(
    ("name", "text", "lang", "placeholder"),
    [
        ("email", "write to somchai.k@example.co.th today", "tha_Thai", "<EMAIL>"),
        ("ipv4", "server 10.0.12.7 is down", "eng_Latn", "<IP_ADDRESS>"),
        ("thai id", f"บัตรประชาชน {VALID_TH}", "tha_Thai", "<TH_ID>"),
        ("thai id in thai digits", "บัตร " + VALID_TH.translate(THAI_DIGITS), "tha_Thai", "<TH_ID>"),
        ("nric", "NRIC S1234567D on file", "eng_Latn", "<SG_NRIC>"),
        ("vietnamese cccd", "Số CCCD 001099012345 của tôi", "vie_Latn", "<VN_CCCD>"),
        ("thai mobile", "โทร 081 234 5678 ได้เลย", "tha_Thai", "<PHONE>"),
        ("international phone", "call +65 6123 4567 now", "eng_Latn", "<PHONE>"),
    ],
)
def test_redaction_finds_and_counts(name: str, text: str, lang: str, placeholder: str) -> None:
    redacted, counts = PiiRedactor().redact(text, lang)
    assert placeholder in redacted, name
    assert counts[placeholder.strip("<>")] == 1


def test_invalid_thai_id_is_left_alone() -> None:
    text = f"หมายเลข {INVALID_TH} ไม่ถูกต้อง"
    redacted, counts = PiiRedactor().redact(text, "tha_Thai")
    assert "TH_ID" not in counts and INVALID_TH in redacted
