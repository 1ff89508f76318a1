"""Find PII with patterns + validators, replace it by typed placeholders and count it."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

import phonenumbers

from silkroute.corpus.normalize import ascii_digits
from silkroute.corpus.pii import national_ids

_EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")
_IPV4 = re.compile(r"\b(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(?:25[0-5]|2[0-4]\d|1?\d?\d)\b")
_IPV6 = re.compile(r"\b(?:[0-9a-fA-F]{1,4}:){7}[0-9a-fA-F]{1,4}\b")
_PHONE_HINT = re.compile(r"\+?\d[\d\s().-]{6,}\d")
_VN_CONTEXT = re.compile(r"(?i)(cccd|căn cước|cmnd|định danh)")

# (placeholder, pattern, validator). Order matters: specific IDs before generic phone numbers.
_ID_RULES: list[tuple[str, re.Pattern[str], Callable[[str], bool]]] = [
    ("SG_NRIC", re.compile(r"\b[STFGMstfgm]\d{7}[A-Za-z]\b"), national_ids.singapore_nric),
    (
        "TH_ID",
        re.compile(r"\b\d[- ]?\d{4}[- ]?\d{5}[- ]?\d{2}[- ]?\d\b"),
        national_ids.thai_citizen_id,
    ),
    ("ID_NIK", re.compile(r"\b\d{16}\b"), national_ids.indonesia_nik),
    ("MY_MYKAD", re.compile(r"\b\d{6}-\d{2}-\d{4}\b"), national_ids.malaysia_mykad),
    ("PH_ID", re.compile(r"\b\d{2,4}-\d{3,7}-\d{1,4}(?:-\d{3})?\b"), national_ids.philippine_id),
]
_LANG_REGION = {
    "tha_Thai": "TH", "vie_Latn": "VN", "ind_Latn": "ID", "zsm_Latn": "MY", "fil_Latn": "PH",
    "khm_Khmr": "KH", "lao_Laoo": "LA", "mya_Mymr": "MM", "cmn_Hani": "CN", "ceb_Latn": "PH",
}  # fmt: skip


@dataclass
class PiiRedactor:
    default_region: str = "SG"

    def redact(self, text: str, lang: str = "und") -> tuple[str, Counter[str]]:
        counts: Counter[str] = Counter()
        original = text
        # Native digits would hide IDs from the patterns, so match on ASCII digits; text with no
        # PII comes back untouched, native digits included.
        text = ascii_digits(text)
        text = self._sub(_EMAIL, "EMAIL", text, counts)
        text = self._sub(_IPV4, "IP_ADDRESS", text, counts)
        text = self._sub(_IPV6, "IP_ADDRESS", text, counts)
        for name, pattern, valid in _ID_RULES:
            text = self._sub(pattern, name, text, counts, valid)
        text = self._vietnam_ids(text, lang, counts)
        if _PHONE_HINT.search(text):
            text = self._phones(text, _LANG_REGION.get(lang, self.default_region), counts)
        return (text if counts else original), counts

    @staticmethod
    def _sub(
        pattern: re.Pattern[str],
        name: str,
        text: str,
        counts: Counter[str],
        valid: Callable[[str], bool] | None = None,
    ) -> str:
        def replace(match: re.Match[str]) -> str:
            if valid is not None and not valid(match.group(0)):
                return match.group(0)
            counts[name] += 1
            return f"<{name}>"

        return pattern.sub(replace, text)

    def _vietnam_ids(self, text: str, lang: str, counts: Counter[str]) -> str:
        # CCCD has no checksum: only claim 12 digits in Vietnamese text or next to its name.
        if lang != "vie_Latn" and not _VN_CONTEXT.search(text):
            return text
        return self._sub(
            re.compile(r"\b\d{12}\b"), "VN_CCCD", text, counts, national_ids.vietnam_cccd
        )

    @staticmethod
    def _phones(text: str, region: str, counts: Counter[str]) -> str:
        matches = list(phonenumbers.PhoneNumberMatcher(text, region))
        for match in reversed(matches):
            counts["PHONE"] += 1
            text = text[: match.start] + "<PHONE>" + text[match.end :]
        return text
