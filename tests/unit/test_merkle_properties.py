"""Properties of our Merkle tree: proofs verify, and any tampering is caught."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from recorder.errors import ProofError
from recorder.merkle import (
    EMPTY_ROOT,
    MerkleTree,
    leaf_hash,
    node_hash,
    root_of,
    verify_consistency,
    verify_inclusion,
)

entries_st = st.lists(st.binary(max_size=8), min_size=1, max_size=40)


def _reference_root(entries: list[bytes]) -> bytes:
    """MTH straight from RFC 6962 section 2.1 (recursive definition)."""
    n = len(entries)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return leaf_hash(entries[0])
    k = 1
    while k * 2 < n:
        k *= 2
    return node_hash(_reference_root(entries[:k]), _reference_root(entries[k:]))


def _flip(data: bytes, bit: int) -> bytes:
    bit %= len(data) * 8
    out = bytearray(data)
    out[bit // 8] ^= 1 << (bit % 8)
    return bytes(out)


def test_empty_tree_root_is_sha256_of_nothing() -> None:
    assert MerkleTree().root() == EMPTY_ROOT == hashlib.sha256(b"").digest()


@given(entries_st)
def test_incremental_root_matches_rfc_definition_at_every_size(entries: list[bytes]) -> None:
    tree = MerkleTree()
    for e in entries:
        tree.append(e)
    for m in range(len(entries) + 1):
        assert tree.root(m) == _reference_root(entries[:m])
    assert root_of(entries) == tree.root()


@settings(max_examples=60)
@given(entries_st, st.data())
def test_every_inclusion_proof_verifies(entries: list[bytes], data: st.DataObject) -> None:
    tree = MerkleTree()
    for e in entries:
        tree.append(e)
    size = data.draw(st.integers(1, len(entries)))
    for i in range(size):
        verify_inclusion(i, size, leaf_hash(entries[i]), tree.inclusion_proof(i, size), tree.root(size))


@settings(max_examples=60)
@given(entries_st)
def test_every_consistency_proof_verifies(entries: list[bytes]) -> None:
    tree = MerkleTree(leaf_hash(e) for e in entries)
    n = len(entries)
    for old in range(1, n + 1):
        verify_consistency(old, n, tree.root(old), tree.root(n), tree.consistency_proof(old, n))


@given(entries_st, st.data())
def test_flipping_any_bit_of_proof_leaf_or_root_fails_inclusion(
    entries: list[bytes], data: st.DataObject
) -> None:
    tree = MerkleTree(leaf_hash(e) for e in entries)
    n = len(entries)
    i = data.draw(st.integers(0, n - 1))
    leaf, proof, root = tree.leaf_hash_at(i), tree.inclusion_proof(i), tree.root()
    target = data.draw(st.sampled_from(["leaf", "root", "proof"] if proof else ["leaf", "root"]))
    bit = data.draw(st.integers(0, 255))
    if target == "leaf":
        leaf = _flip(leaf, bit)
    elif target == "root":
        root = _flip(root, bit)
    else:
        j = data.draw(st.integers(0, len(proof) - 1))
        proof[j] = _flip(proof[j], bit)
    with pytest.raises(ProofError):
        verify_inclusion(i, n, leaf, proof, root)


@given(st.lists(st.binary(max_size=8), min_size=2, max_size=40), st.data())
def test_flipping_any_bit_of_consistency_proof_or_roots_fails(
    entries: list[bytes], data: st.DataObject
) -> None:
    tree = MerkleTree(leaf_hash(e) for e in entries)
    n = len(entries)
    old = data.draw(st.integers(1, n - 1))
    proof, r1, r2 = tree.consistency_proof(old, n), tree.root(old), tree.root(n)
    bit = data.draw(st.integers(0, 255))
    target = data.draw(st.sampled_from(["old", "new", "proof"]))
    if target == "old":
        r1 = _flip(r1, bit)
    elif target == "new":
        r2 = _flip(r2, bit)
    else:
        j = data.draw(st.integers(0, len(proof) - 1))
        proof[j] = _flip(proof[j], bit)
    with pytest.raises(ProofError):
        verify_consistency(old, n, r1, r2, proof)


def test_inclusion_error_names_the_wrong_proof_length() -> None:
    tree = MerkleTree(leaf_hash(bytes([i])) for i in range(5))
    proof = tree.inclusion_proof(2)
    with pytest.raises(ProofError, match="has 2 hashes, expected 3"):
        verify_inclusion(2, 5, tree.leaf_hash_at(2), proof[:-1], tree.root())


def test_consistency_error_names_which_root_failed() -> None:
    tree = MerkleTree(leaf_hash(bytes([i])) for i in range(7))
    proof = tree.consistency_proof(3, 7)
    with pytest.raises(ProofError, match="new root"):
        verify_consistency(3, 7, tree.root(3), tree.root(6), proof)
    with pytest.raises(ProofError, match="old root"):
        verify_consistency(3, 7, tree.root(2), tree.root(7), proof)


def test_proofs_for_sizes_beyond_the_tree_are_refused() -> None:
    tree = MerkleTree(leaf_hash(b"x") for _ in range(3))
    with pytest.raises(ProofError):
        tree.inclusion_proof(3, 3)
    with pytest.raises(ProofError):
        tree.consistency_proof(2, 4)
