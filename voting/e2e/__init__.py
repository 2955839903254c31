# ruff: noqa: RUF003 (mathematical notation: α, β, ℓ, −)
"""End-to-end verifiable secret ballots (see ``docs/e2e-ballots.md``).

Pure: no framework, no I/O. ``group`` (ristretto255 through libsodium), ``transcript``
(hash inputs), ``elgamal``, ``proofs``, ``keys`` (trustees), ``ballot``, ``tally``.
"""
