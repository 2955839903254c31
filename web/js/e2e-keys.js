// @ts-check
/**
 * Trustees' key shares and the joint poll key, n-of-n (docs/e2e-ballots.md §3, as
 * voting/e2e/keys.py): a trustee's device draws x, publishes Y_i = x·B with a Schnorr
 * proof bound to the meeting and the trustee, and keeps x (as hex in IndexedDB).
 * @module e2e-keys
 */

import { E2EError, Point, decodePoint, decodeScalar, exact, mulSecret, pointHex, randomScalar,
  scalarHex } from "./e2e-group.js";
import { Transcript } from "./e2e-transcript.js";
import { parseResponse, proveDlog, respDict, verifyDlog } from "./e2e-proofs.js";

/** @typedef {import("./e2e-group.js").RPoint} RPoint */

/** @param {string} meetingId @param {string} trusteeId @param {RPoint} share */
function keyTranscript(meetingId, trusteeId, share) {
  return new Transcript("key").text(meetingId).text(trusteeId).point(share);
}

/**
 * A trustee's key share: the secret stays on this device; `key` goes to the server.
 * @param {string} meetingId @param {string} trusteeId
 */
export function makeTrusteeKey(meetingId, trusteeId) {
  const x = randomScalar();
  return { secret: x, key: makeTrusteeKeyFrom(meetingId, trusteeId, x) };
}

/**
 * The public key share of a secret `x` kept on this device, with a fresh proof.
 * @param {string} meetingId @param {string} trusteeId @param {bigint} x
 */
export function makeTrusteeKeyFrom(meetingId, trusteeId, x) {
  const share = mulSecret(x, Point.BASE);
  const proof = proveDlog(keyTranscript(meetingId, trusteeId, share), x);
  return { trustee_id: trusteeId, public_share: pointHex(share), proof: respDict(proof) };
}

/** @param {string} meetingId @param {unknown} d */
export function verifyTrusteeKey(meetingId, d) {
  const o = exact(d, ["trustee_id", "public_share", "proof"], "key");
  if (typeof o.trustee_id !== "string") throw new E2EError("invalid_input", "trustee_id", "key.trustee_id");
  const share = decodePoint(o.public_share, "key.public_share");
  if (!verifyDlog(keyTranscript(meetingId, o.trustee_id, share), share, parseResponse(o.proof, "key.proof"))) {
    throw new E2EError("invalid_key_proof", "the key share's proof does not verify", "proof");
  }
  return share;
}

/** @param {string[]} shares hex public shares @returns {string} the joint key Y = Σ Y_i */
export function jointKey(shares) {
  let y = Point.ZERO;
  for (const s of shares) y = y.add(decodePoint(s, "public_share"));
  return pointHex(y);
}

/** Keep a secret scalar as hex (IndexedDB) and back. */
export const secretToHex = scalarHex;
/** @param {string} hex */
export const secretFromHex = (hex) => decodeScalar(hex, "secret");

/** The public point of a secret scalar, hex (to match a stored secret with the server's). @param {bigint} x */
export const publicOf = (x) => pointHex(mulSecret(x, Point.BASE));
