"""RFC 9162 / 6962 Merkle hashing against the Certificate Transparency reference vectors, and
proofs round-trip for every tree shape (and fail when anything is changed)."""

from __future__ import annotations

import pytest

from silkroute.audit.merkle import (
    EMPTY_ROOT,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    root,
    verify_consistency,
    verify_inclusion,
)

# The inputs and tree heads published with Certificate Transparency's reference tests.
CT_INPUTS = [bytes.fromhex(h) for h in (
    "", "00", "10", "2021", "3031", "40414243", "5051525354555657",
    "606162636465666768696a6b6c6d6e6f",
)]  # fmt: skip
CT_ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
LEAVES = [leaf_hash(x) for x in CT_INPUTS]


def test_empty_root_is_sha256_of_nothing() -> None:
    assert EMPTY_ROOT.hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


@pytest.mark.parametrize("size", range(1, 9))
def test_roots_match_the_reference(size: int) -> None:
    assert root(LEAVES[:size]).hex() == CT_ROOTS[size - 1]


@pytest.mark.parametrize(
    ("index", "path"),
    [
        (0, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
             "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
             "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
        (5, ["bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
             "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
             "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    ],
)  # fmt: skip
def test_inclusion_paths_match_the_reference(index: int, path: list[str]) -> None:
    assert [p.hex() for p in inclusion_proof(index, LEAVES)] == path


@pytest.mark.parametrize(
    ("old", "new", "path"),
    [
        (6, 8, ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
                "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
        (2, 5, ["5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
    ],
)  # fmt: skip
def test_consistency_paths_match_the_reference(old: int, new: int, path: list[str]) -> None:
    assert [p.hex() for p in consistency_proof(old, LEAVES[:new])] == path


def test_every_proof_round_trips_and_tampering_fails() -> None:
    leaves = [leaf_hash(bytes([i, i * 7 % 256])) for i in range(37)]
    for n in range(1, len(leaves) + 1):
        head = root(leaves[:n])
        for i in range(n):
            proof = inclusion_proof(i, leaves[:n])
            assert verify_inclusion(leaves[i], i, n, proof, head)
            assert not verify_inclusion(leaves[(i + 1) % n], i, n, proof, head) or n == 1
            assert not verify_inclusion(leaves[i], i, i, proof, head)
            if proof:
                bent = [proof[0][::-1], *proof[1:]]
                assert not verify_inclusion(leaves[i], i, n, bent, head)
        for m in range(1, n + 1):
            proof = consistency_proof(m, leaves[:n])
            old = root(leaves[:m])
            assert verify_consistency(m, n, old, head, proof)
            if m < n:
                assert not verify_consistency(m, n, leaf_hash(b"forged"), head, proof)
                assert not verify_consistency(m, n, old, leaf_hash(b"forged"), proof)
