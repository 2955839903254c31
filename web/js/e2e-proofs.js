// @ts-check
/**
 * Sigma protocols made non-interactive with strong Fiat–Shamir (docs/e2e-ballots.md, as
 * voting/e2e/proofs.py): the disjunctive proof that a ciphertext holds one of a set of
 * values, Schnorr's proof of knowledge of a discrete log, and Chaum–Pedersen's proof of
 * equal logs. Every proof is a list of (c, s) responses; the caller's transcript already
 * holds the whole statement.
 * @module e2e-proofs
 */

import { ORDER, Point, decodeScalar, exact, mulPublic, mulSecret, randomScalar, scalarHex, small } from "./e2e-group.js";

/** @typedef {import("./e2e-group.js").RPoint} RPoint */
/** @typedef {import("./e2e-transcript.js").Transcript} Transcript */
/** @typedef {{c: bigint, s: bigint}} Response */

/** A_v = s·B − c·α, B_v = s·Y − c·(β − v·B) (verifier side, public data). */
function commitPair(/** @type {Response} */ r, /** @type {RPoint} */ alpha, /** @type {RPoint} */ betaMinusV,
  /** @type {RPoint} */ y) {
  const a = mulPublic(r.s, Point.BASE).subtract(mulPublic(r.c, alpha));
  const b = mulPublic(r.s, y).subtract(mulPublic(r.c, betaMinusV));
  return [a, b];
}

/**
 * Disjunctive proof that (α, β) = (r·B, m·B + r·Y) with m in `values`.
 * @param {Transcript} transcript @param {number[]} values @param {number} m @param {bigint} r
 * @param {RPoint} alpha @param {RPoint} beta @param {RPoint} y
 * @returns {Response[]}
 */
export function proveMembership(transcript, values, m, r, alpha, beta, y) {
  if (!values.includes(m)) throw new RangeError("the plaintext is not in the proven set");
  const t = transcript.copy();
  /** @type {Map<number, Response>} */
  const fake = new Map();
  let w = 0n;
  for (const v of values) {
    if (v === m) {
      w = randomScalar();
      t.point(mulSecret(w, Point.BASE)).point(mulSecret(w, y));
    } else {
      const resp = { c: randomScalar(), s: randomScalar() };
      fake.set(v, resp);
      const bv = beta.subtract(small(v));
      t.point(mulSecret(resp.s, Point.BASE).subtract(mulSecret(resp.c, alpha)));
      t.point(mulSecret(resp.s, y).subtract(mulSecret(resp.c, bv)));
    }
  }
  const c = t.challenge();
  let cReal = c;
  for (const f of fake.values()) cReal -= f.c;
  cReal = ((cReal % ORDER) + ORDER) % ORDER;
  const real = { c: cReal, s: (w + cReal * r) % ORDER };
  return values.map((v) => (v === m ? real : /** @type {Response} */ (fake.get(v))));
}

/** @param {Transcript} transcript @param {number[]} values @param {RPoint} alpha @param {RPoint} beta
 *  @param {RPoint} y @param {Response[]} proof */
export function verifyMembership(transcript, values, alpha, beta, y, proof) {
  if (proof.length !== values.length) return false;
  const t = transcript.copy();
  let sum = 0n;
  values.forEach((v, i) => {
    const [a, b] = commitPair(proof[i], alpha, beta.subtract(small(v)), y);
    t.point(a).point(b);
    sum += proof[i].c;
  });
  return sum % ORDER === t.challenge();
}

/** Schnorr PoK: c = H(t ‖ w·B), s = w + c·x. */
export function proveDlog(/** @type {Transcript} */ t, /** @type {bigint} */ x) {
  const w = randomScalar();
  const c = t.copy().point(mulSecret(w, Point.BASE)).challenge();
  return { c, s: (w + c * x) % ORDER };
}

export function verifyDlog(/** @type {Transcript} */ t, /** @type {RPoint} */ X, /** @type {Response} */ r) {
  const a = mulPublic(r.s, Point.BASE).subtract(mulPublic(r.c, X));
  return t.copy().point(a).challenge() === r.c;
}

/** Chaum–Pedersen: log_B X = log_P D. */
export function proveEqlog(/** @type {Transcript} */ t, /** @type {bigint} */ x, /** @type {RPoint} */ p) {
  const w = randomScalar();
  const c = t.copy().point(mulSecret(w, Point.BASE)).point(mulSecret(w, p)).challenge();
  return { c, s: (w + c * x) % ORDER };
}

export function verifyEqlog(/** @type {Transcript} */ t, /** @type {RPoint} */ X, /** @type {RPoint} */ p,
  /** @type {RPoint} */ d, /** @type {Response} */ r) {
  const a = mulPublic(r.s, Point.BASE).subtract(mulPublic(r.c, X));
  const b = mulPublic(r.s, p).subtract(mulPublic(r.c, d));
  return t.copy().point(a).point(b).challenge() === r.c;
}

/** A response on the wire. @param {Response} r */
export const respDict = (r) => ({ c: scalarHex(r.c), s: scalarHex(r.s) });

/** @param {unknown} d @param {string} field @returns {Response} */
export function parseResponse(d, field) {
  const o = exact(d, ["c", "s"], field);
  return { c: decodeScalar(o.c, `${field}.c`), s: decodeScalar(o.s, `${field}.s`) };
}
