"""RFC 6962 / RFC 9162 Merkle tree hashing, proofs and their verification.

* leaf hash  ``SHA-256(0x00 || entry)``; node hash ``SHA-256(0x01 || left || right)``;
  the empty tree's root is ``SHA-256("")``.
* :class:`MerkleTree` is an append-only tree. It keeps every complete
  (perfect) subtree hash, level by level: appending is amortised O(1) and at
  most O(log n) hashes, the root of any earlier size is O(log n) (the compact
  range of that size), and inclusion / consistency proofs for any sizes are
  O(log^2 n) to produce.
* :func:`verify_inclusion` and :func:`verify_consistency` follow the
  algorithms of RFC 9162 sections 2.1.3.2 and 2.1.4.2 and raise
  :class:`~recorder.errors.ProofError` naming what failed.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable, Sequence

from recorder.errors import ProofError

logger = logging.getLogger(__name__)

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()

_sha256 = hashlib.sha256


def leaf_hash(entry: bytes) -> bytes:
    """``SHA-256(0x00 || entry)``."""
    return _sha256(b"\x00" + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """``SHA-256(0x01 || left || right)``."""
    return _sha256(b"\x01" + left + right).digest()


def _largest_power_of_two_below(n: int) -> int:
    """The largest power of two strictly smaller than ``n`` (``n >= 2``)."""
    return 1 << ((n - 1).bit_length() - 1)


def root_from_leaf_hashes(hashes: Sequence[bytes]) -> bytes:
    """The Merkle tree hash (MTH) of a list of leaf hashes."""
    if not hashes:
        return EMPTY_ROOT
    level = list(hashes)
    # Pair from the left; an odd node is promoted unchanged: this equals the
    # RFC's recursive split on the largest power of two.
    while len(level) > 1:
        nxt = [node_hash(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            nxt.append(level[-1])
        level = nxt
    return level[0]


def root_of(entries: Iterable[bytes]) -> bytes:
    """The Merkle tree hash of a list of raw entries."""
    return root_from_leaf_hashes([leaf_hash(e) for e in entries])


class MerkleTree:
    """An append-only RFC 6962 tree that can prove any of its past states."""

    __slots__ = ("_levels",)

    def __init__(self, leaf_hashes: Iterable[bytes] = ()) -> None:
        # _levels[k][i] is the hash of the perfect subtree of 2**k leaves
        # starting at leaf i * 2**k; only complete subtrees are stored.
        self._levels: list[list[bytes]] = [[]]
        for h in leaf_hashes:
            self.append_hash(h)

    @property
    def size(self) -> int:
        return len(self._levels[0])

    def append(self, entry: bytes) -> bytes:
        """Append a raw entry; return its leaf hash."""
        h = leaf_hash(entry)
        self.append_hash(h)
        return h

    def append_hash(self, h: bytes) -> int:
        """Append a leaf hash; return the new leaf's index."""
        if len(h) != HASH_SIZE:
            raise ProofError(f"leaf hash has {len(h)} bytes, expected {HASH_SIZE}")
        levels = self._levels
        index = len(levels[0])
        levels[0].append(h)
        k, i = 0, index
        while i & 1:  # a right child completes its parent
            if k + 1 == len(levels):
                levels.append([])
            levels[k + 1].append(node_hash(levels[k][i - 1], levels[k][i]))
            k, i = k + 1, i >> 1
        return index

    def leaf_hash_at(self, index: int) -> bytes:
        if not 0 <= index < self.size:
            raise ProofError(f"leaf index {index} is outside the tree of size {self.size}")
        return self._levels[0][index]

    def _range_hash(self, lo: int, hi: int) -> bytes:
        """MTH of leaves ``[lo, hi)``; ``lo`` must be aligned as in the RFC split."""
        n = hi - lo
        if n & (n - 1) == 0 and lo % n == 0:
            k = n.bit_length() - 1
            return self._levels[k][lo >> k]
        k = _largest_power_of_two_below(n)
        return node_hash(self._range_hash(lo, lo + k), self._range_hash(lo + k, hi))

    def _check_size(self, size: int, what: str = "size") -> None:
        if not 0 <= size <= self.size:
            raise ProofError(f"{what} {size} is outside 0..{self.size}")

    def root(self, size: int | None = None) -> bytes:
        """The root hash at ``size`` (default: the current size)."""
        size = self.size if size is None else size
        self._check_size(size)
        if size == 0:
            return EMPTY_ROOT
        # Fold the compact range (the perfect subtrees of ``size``) right to left.
        acc: bytes | None = None
        lo = 0
        parts: list[bytes] = []
        for k in range(size.bit_length() - 1, -1, -1):
            if size >> k & 1:
                parts.append(self._levels[k][lo >> k])
                lo += 1 << k
        for h in reversed(parts):
            acc = h if acc is None else node_hash(h, acc)
        assert acc is not None
        return acc

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        """RFC 9162 PATH(index, D[0:size]), leaf sibling first."""
        size = self.size if size is None else size
        self._check_size(size)
        if not 0 <= index < size:
            raise ProofError(f"leaf index {index} is outside the tree of size {size}")
        path: list[bytes] = []
        lo, hi = 0, size
        while hi - lo > 1:
            k = _largest_power_of_two_below(hi - lo)
            if index < lo + k:
                path.append(self._range_hash(lo + k, hi))
                hi = lo + k
            else:
                path.append(self._range_hash(lo, lo + k))
                lo += k
        path.reverse()
        return path

    def consistency_proof(self, old_size: int, new_size: int | None = None) -> list[bytes]:
        """RFC 9162 PROOF(old_size, D[0:new_size])."""
        new_size = self.size if new_size is None else new_size
        self._check_size(new_size, "new size")
        if not 0 <= old_size <= new_size:
            raise ProofError(f"old size {old_size} is outside 0..{new_size}")
        if old_size in (0, new_size):
            return []
        proof: list[bytes] = []
        lo, hi, m, complete = 0, new_size, old_size, True
        while m != hi - lo:
            k = _largest_power_of_two_below(hi - lo)
            if m <= k:
                proof.append(self._range_hash(lo + k, hi))
                hi = lo + k
            else:
                proof.append(self._range_hash(lo, lo + k))
                lo += k
                m -= k
                complete = False
        if not complete:
            proof.append(self._range_hash(lo, hi))
        proof.reverse()
        return proof


def inclusion_proof_length(index: int, size: int) -> int:
    """The exact number of hashes in an inclusion proof for ``index`` in ``size``."""
    inner = (index ^ (size - 1)).bit_length()
    return inner + bin(index >> inner).count("1")


def _check_hashes(proof: Sequence[bytes], what: str) -> None:
    if all(len(h) == HASH_SIZE for h in proof):
        return
    for i, h in enumerate(proof):
        if len(h) != HASH_SIZE:
            raise ProofError(f"{what}[{i}] has {len(h)} bytes, expected {HASH_SIZE}")


def root_from_inclusion_proof(index: int, size: int, leaf: bytes, proof: Sequence[bytes]) -> bytes:
    """Compute the root implied by an inclusion proof (RFC 9162 2.1.3.2)."""
    if index < 0 or size < 0:
        raise ProofError(f"negative index {index} or size {size}")
    if index >= size:
        raise ProofError(f"leaf index {index} is not below tree size {size}")
    if len(leaf) != HASH_SIZE:
        raise ProofError(f"leaf hash has {len(leaf)} bytes, expected {HASH_SIZE}")
    want = inclusion_proof_length(index, size)
    if len(proof) != want:
        raise ProofError(
            f"inclusion proof has {len(proof)} hashes, expected {want} "
            f"for leaf {index} in a tree of size {size}"
        )
    _check_hashes(proof, "inclusion proof")
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if fn & 1 or fn == sn:
            r = _sha256(b"\x01" + p + r).digest()
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = _sha256(b"\x01" + r + p).digest()
        fn >>= 1
        sn >>= 1
    if sn != 0:  # unreachable given the length check; kept as the RFC's final test
        raise ProofError("inclusion proof is too short for the tree size")
    return r


def verify_inclusion(index: int, size: int, leaf: bytes, proof: Sequence[bytes], root: bytes) -> None:
    """Raise :class:`ProofError` unless ``proof`` proves ``leaf`` at ``index`` under ``root``."""
    calculated = root_from_inclusion_proof(index, size, leaf, proof)
    if calculated != root:
        raise ProofError(
            f"inclusion proof for leaf {index} in tree size {size} yields root "
            f"{calculated.hex()}, expected {root.hex()}"
        )


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> None:
    """Raise :class:`ProofError` unless ``proof`` shows ``old`` is a prefix of ``new``.

    Follows RFC 9162 2.1.4.2. A proof from the empty tree is refused as
    meaningless (every tree extends it); equal sizes need an empty proof and
    equal roots.
    """
    if old_size < 0 or new_size < 0:
        raise ProofError(f"negative size {old_size} or {new_size}")
    if new_size < old_size:
        raise ProofError(f"new size {new_size} is smaller than old size {old_size}")
    if old_size == 0:
        raise ProofError("a consistency proof from the empty tree is meaningless")
    if old_size == new_size:
        if proof:
            raise ProofError(f"sizes are equal ({old_size}) but the proof is not empty")
        if old_root != new_root:
            raise ProofError(
                f"sizes are equal ({old_size}) but roots differ: {old_root.hex()} != {new_root.hex()}"
            )
        return
    if not proof:
        raise ProofError(f"empty consistency proof from size {old_size} to {new_size}")
    _check_hashes(proof, "consistency proof")
    path = list(proof)
    if old_size & (old_size - 1) == 0:
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    # Expected length: the seed plus the inclusion path of the old tree's last
    # node above its lowest set level.
    want = 1 + inclusion_proof_length(fn, sn + 1)
    if len(path) != want:
        got = len(proof)
        expected = want - (len(path) - len(proof))
        raise ProofError(
            f"consistency proof has {got} hashes, expected {expected} from size {old_size} to {new_size}"
        )
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise ProofError("consistency proof is too long")
        if fn & 1 or fn == sn:
            fr = _sha256(b"\x01" + c + fr).digest()
            sr = _sha256(b"\x01" + c + sr).digest()
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = _sha256(b"\x01" + sr + c).digest()
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("consistency proof is too short")
    if fr != old_root:
        raise ProofError(
            f"consistency proof yields old root {fr.hex()} for size {old_size}, expected {old_root.hex()}"
        )
    if sr != new_root:
        raise ProofError(
            f"consistency proof yields new root {sr.hex()} for size {new_size}, expected {new_root.hex()}"
        )
