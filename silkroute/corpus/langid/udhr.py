"""The UDHR development texts in shared/data: which file is which label, and a fixed split.

The first half of each text may train the n-gram profiles; the second half is held out for
evaluation, so the benchmark never scores a detector on lines it learned from.
"""

from __future__ import annotations

from pathlib import Path

UDHR_FILES = {
    "tha_Thai": "tha",
    "lao_Laoo": "lao",
    "khm_Khmr": "khm",
    "mya_Mymr": "mya",
    "vie_Latn": "vie",
    "ind_Latn": "ind",
    "zsm_Latn": "mly_latn",
    "fil_Latn": "tgl",
    "jav_Latn": "jav",
    "sun_Latn": "sun",
    "ceb_Latn": "ceb",
    "war_Latn": "war",
    "ilo_Latn": "ilo",
    "tet_Latn": "tet",
    "cmn_Hani": "cmn_hans",
    "eng_Latn": "eng",
}

# Related regional languages: trained as competitors so they are not forced into a target label.
UDHR_OTHER_FILES = {
    "hil_Latn": "hil",
    "pam_Latn": "pam",
    "bcl_Latn": "bcl",
    "min_Latn": "min",
    "ban_Latn": "ban",
    "bug_Latn": "bug",
    "mad_Latn": "mad",
    "ace_Latn": "ace",
}


def udhr_lines(data_dir: Path, code: str) -> list[str]:
    path = data_dir / "udhr" / f"{code}.txt"
    return [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def split_train_test(lines: list[str]) -> tuple[list[str], list[str]]:
    half = len(lines) // 2
    return lines[:half], lines[half:]
