// @ts-check
/**
 * End-to-end verifiable secret ballots in the browser: the same group, encodings,
 * transcripts and proofs as voting/e2e (Python); docs/e2e-ballots.md is the spec.
 * DOM-free. The code lives in one module per concept, as in voting/e2e:
 *
 * - e2e-group.js — ristretto255 points and scalars, their wire encodings, E2EError;
 * - e2e-transcript.js — the byte-exact hash inputs of every challenge and the tracker;
 * - e2e-proofs.js — the disjunctive, Schnorr and Chaum–Pedersen proofs;
 * - e2e-ballot.js — the poll context, encrypting, parsing and verifying a ballot, its
 *   tracker, the Benaloh check (the voter's side);
 * - e2e-keys.js — trustees' key shares and the joint key (n-of-n);
 * - e2e-tally.js — the homomorphic sums and partial decryptions (a trustee at close);
 * - e2e-dkg.js — the threshold key generation (t-of-n).
 *
 * The app imports those modules directly; this one gathers their public functions, the
 * same ones e2e.js had before it was split, in one namespace for the browser tests that
 * compare them with voting/e2e (tests/browser/test_e2e_*_browser.py).
 * @module e2e
 */

export { ORDER, E2EError, toHex, scalarBytes, scalarHex, pointHex, decodePoint, decodeScalar,
  randomScalar } from "./e2e-group.js";
export { DOMAIN, Transcript } from "./e2e-transcript.js";
export { VERSION, pollContext, encryptBallot, parseBallot, verifyBallot, trackerOf, auditBallot } from "./e2e-ballot.js";
export { makeTrusteeKey, makeTrusteeKeyFrom, verifyTrusteeKey, jointKey, secretToHex, secretFromHex,
  publicOf } from "./e2e-keys.js";
export { homomorphicSums, sumsToWire, partialDecrypt, verifyPartial } from "./e2e-tally.js";
export { makeDkgKey, checkDkgView, makeDealing, checkReceived, makeComplaint } from "./e2e-dkg.js";
