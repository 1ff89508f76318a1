"""Validators for national ID numbers of the region (checksums where the scheme has one)."""

from __future__ import annotations

import datetime as dt


def _digits(value: str) -> str:
    return "".join(ch for ch in value if ch.isdigit())


def thai_citizen_id(value: str) -> bool:
    """13 digits; the last is (11 - sum(d_i * (13 - i)) mod 11) mod 10."""
    d = _digits(value)
    if len(d) != 13 or d[0] == "0":
        return False
    total = sum(int(d[i]) * (13 - i) for i in range(12))
    return (11 - total % 11) % 10 == int(d[12])


_NRIC_WEIGHTS = (2, 7, 6, 5, 4, 3, 2)
_NRIC_TABLES = {
    "S": (0, "JZIHGFEDCBA"),
    "T": (4, "JZIHGFEDCBA"),
    "F": (0, "XWUTRQPNMLK"),
    "G": (4, "XWUTRQPNMLK"),
    "M": (3, "XWUTRQPNJLK"),
}


def singapore_nric(value: str) -> bool:
    """Singapore NRIC/FIN: prefix letter, 7 digits, weighted mod-11 check letter."""
    value = value.upper()
    if len(value) != 9 or value[0] not in _NRIC_TABLES or not value[1:8].isdigit():
        return False
    offset, table = _NRIC_TABLES[value[0]]
    total = sum(int(ch) * w for ch, w in zip(value[1:8], _NRIC_WEIGHTS, strict=True)) + offset
    return table[total % 11] == value[8]


def _valid_date(year: int, month: int, day: int) -> bool:
    try:
        dt.date(year, month, day)
    except ValueError:
        return False
    return True


# Malaysian place-of-birth codes: states 01-16, 21-59, abroad 60-68, 71-72, 74-79, 82-93, 98-99.
_MY_PLACE = {*range(1, 17), *range(21, 60), *range(60, 69), 71, 72, *range(74, 80)}
_MY_PLACE |= {*range(82, 94), 98, 99}


def malaysia_mykad(value: str) -> bool:
    """YYMMDD-PB-###G: no checksum, so the birth date and the place code must be valid."""
    d = _digits(value)
    if len(d) != 12:
        return False
    return _valid_date(2000 + int(d[0:2]), int(d[2:4]), int(d[4:6])) and int(d[6:8]) in _MY_PLACE


def indonesia_nik(value: str) -> bool:
    """16 digits: province(11-94) regency district DDMMYY (DD+40 for women) serial(>0)."""
    d = _digits(value)
    if len(d) != 16 or not 11 <= int(d[0:2]) <= 94:
        return False
    day = int(d[6:8])
    day = day - 40 if day > 40 else day
    return _valid_date(2000 + int(d[10:12]), int(d[8:10]), day) and int(d[12:16]) > 0


_VN_PROVINCES = {
    1, 2, 4, 6, 8, 10, 11, 12, 14, 15, 17, 19, 20, 22, 24, 25, 26, 27, 30, 31, 33, 34, 35, 36,
    37, 38, 40, 42, 44, 45, 46, 48, 49, 51, 52, 54, 56, 58, 60, 62, 64, 66, 67, 68, 70, 72, 74,
    75, 77, 79, 80, 82, 83, 84, 86, 87, 89, 91, 92, 93, 94, 95, 96,
}  # fmt: skip


def vietnam_cccd(value: str) -> bool:
    """12 digits: province code, century/sex digit, birth year (2 digits), 6-digit serial."""
    d = _digits(value)
    return len(d) == 12 and int(d[0:3]) in _VN_PROVINCES


def philippine_id(value: str) -> bool:
    """PhilSys PSN (4-4-4), SSS (2-7-1), UMID CRN (4-7-1), TIN (3-3-3[-3]): format only."""
    groups = [len(g) for g in value.split("-")]
    return groups in ([4, 4, 4], [2, 7, 1], [4, 7, 1], [3, 3, 3], [3, 3, 3, 3])
