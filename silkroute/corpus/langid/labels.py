"""FLORES-200 / FineWeb-2 style labels, and the maps from each detector's own codes to them."""

from __future__ import annotations

TARGET_LABELS = (
    "tha_Thai",
    "vie_Latn",
    "ind_Latn",
    "zsm_Latn",
    "fil_Latn",
    "khm_Khmr",
    "lao_Laoo",
    "mya_Mymr",
    "cmn_Hani",
    "eng_Latn",
    "jav_Latn",
    "sun_Latn",
    "ceb_Latn",
    "war_Latn",
    "ilo_Latn",
    "tet_Latn",
    "shn_Mymr",
)

# ISO 639-1 / detector codes (fastText lid.176 and CLD2 share most) -> our labels.
ISO_TO_LABEL = {
    "th": "tha_Thai",
    "vi": "vie_Latn",
    "id": "ind_Latn",
    "ms": "zsm_Latn",
    "tl": "fil_Latn",
    "km": "khm_Khmr",
    "lo": "lao_Laoo",
    "my": "mya_Mymr",
    "zh": "cmn_Hani",
    "zh-Hant": "cmn_Hani",
    "en": "eng_Latn",
    "jv": "jav_Latn",
    "jw": "jav_Latn",
    "su": "sun_Latn",
    "ceb": "ceb_Latn",
    "war": "war_Latn",
    "ilo": "ilo_Latn",
    "min": "min_Latn",
    "bcl": "bcl_Latn",
    "pam": "pam_Latn",
    "fr": "fra_Latn",
    "es": "spa_Latn",
    "pt": "por_Latn",
    "de": "deu_Latn",
    "nl": "nld_Latn",
    "it": "ita_Latn",
    "ja": "jpn_Jpan",
    "ko": "kor_Hang",
}

# Lingua's enum names -> our labels (only the languages we let lingua consider).
LINGUA_TO_LABEL = {
    "ENGLISH": "eng_Latn",
    "INDONESIAN": "ind_Latn",
    "MALAY": "zsm_Latn",
    "TAGALOG": "fil_Latn",
    "VIETNAMESE": "vie_Latn",
    "FRENCH": "fra_Latn",
    "SPANISH": "spa_Latn",
    "PORTUGUESE": "por_Latn",
    "GERMAN": "deu_Latn",
    "DUTCH": "nld_Latn",
}


def label_from_iso(code: str, script: str = "Latn") -> str:
    return ISO_TO_LABEL.get(code) or f"{code}_{script}"  # no string built for a known code
