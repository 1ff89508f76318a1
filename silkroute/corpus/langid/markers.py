"""Spelling and vocabulary that separate Indonesian from Malay.

Written from the standard-language differences (bahwa/bahawa, karena/kerana, -itas/-iti, ...),
not learnt from the evaluation texts.
"""

from __future__ import annotations

import re

IND_WORDS = frozenset(
    """bahwa karena yaitu maupun perkawinan kawin gratis polisi universitas saja uang kantor
    mobil kamu kualitas aktivitas komunitas identitas realitas informasi nasional coba berbagai
    setelah sesudah konstitusi provinsi kampanye televisi pria rapat bus taksi komisi seandainya
    tapi nggak gak enggak udah aja banget gimana bisa cuma kok dong sih deh silakan agar
    kepolisian kejahatan pidana semesta tersebut merupakan pemerintah sekolah-sekolah
    memperoleh diperoleh harus kemerdekaan""".split()
)

ZSM_WORDS = frozenset(
    """bahawa kerana daripada iaitu hendaklah sebarang mana-mana apa-apa sesiapa mahupun
    perkahwinan berkahwin kahwin kanak-kanak percuma hospital polis universiti kerajaan sahaja
    wang pejabat kereta awak amat semula mengikut kualiti aktiviti komuniti identiti realiti
    maklumat pelbagai selepas perlembagaan menerusi sempena ahli bertanggungjawab syarikat kempen
    televisyen lelaki mesyuarat tandas teksi jawatan suruhanjaya persekutuan ramai semasa
    sekiranya bagaimanapun nak dah je korang baharu cuba jenayah dikehendaki berkenaan selaras
    sejagat ugama""".split()
)

_WORD = re.compile(r"[a-z]+(?:-[a-z]+)*")


def ind_zsm_evidence(text: str) -> int:
    """Malay markers minus Indonesian markers: > 0 leans Malay, < 0 leans Indonesian."""
    score = 0
    for word in _WORD.findall(text.lower()):
        if word in ZSM_WORDS or (word.endswith("iti") and len(word) > 6):
            score += 1
        elif word in IND_WORDS or (word.endswith("itas") and len(word) > 6):
            score -= 1
    return score
