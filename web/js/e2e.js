// @ts-check
/**
 * End-to-end verifiable secret ballots in the browser: the same group, encodings,
 * transcripts and proofs as voting/e2e (Python); docs/e2e-ballots.md is the spec.
 * DOM-free: the voting UI and the trustee panel call into it.
 *
 * Points are ristretto255 (RFC 9496) from @noble/curves, served by meetingd from the
 * npm lockfile (see the import map in index.html). Scalars are bigint in [0, ℓ).
 * The prover uses constant-time multiplication; the verifier (public data only) uses
 * the variable-time one.
 */

import { ristretto255 } from "@noble/curves/ed25519.js";
import { sha256, sha512 } from "@noble/hashes/sha2.js";

const Point = ristretto255.Point;
/** @typedef {InstanceType<typeof Point>} RPoint */

export const ORDER = Point.Fn.ORDER;
export const DOMAIN = "meetingd/e2e/v1";
export const VERSION = 1;
const ID_PATTERN = /^[A-Za-z0-9_.:-]{1,64}$/;

/** An error with a stable code and the offending field, like the server's. */
export class E2EError extends Error {
  /** @param {string} code @param {string} message @param {string} field */
  constructor(code, message, field) {
    super(message);
    this.code = code;
    this.field = field;
  }
}

// -- encodings ---------------------------------------------------------------------

/** @param {Uint8Array} bytes */
export function toHex(bytes) {
  let out = "";
  for (const b of bytes) out += b.toString(16).padStart(2, "0");
  return out;
}

/** @param {string} hex */
function fromHex(hex) {
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

const HEX64 = /^[0-9a-f]{64}$/;

/** @param {bigint} k */
export function scalarBytes(k) {
  let v = ((k % ORDER) + ORDER) % ORDER;
  const out = new Uint8Array(32);
  for (let i = 0; i < 32; i++) {
    out[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return out;
}

/** @param {Uint8Array} bytes */
function bytesToNumberLE(bytes) {
  let v = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(bytes[i]);
  return v;
}

/** @param {bigint} k */
export const scalarHex = (k) => toHex(scalarBytes(k));
/** @param {RPoint} p */
export const pointHex = (p) => toHex(p.toBytes());

/**
 * Parse a point: 64 lowercase hex digits, canonical, not the identity unless allowed.
 * @param {unknown} text @param {string} field @param {boolean} [allowIdentity]
 * @returns {RPoint}
 */
export function decodePoint(text, field, allowIdentity = false) {
  if (typeof text !== "string" || !HEX64.test(text)) {
    throw new E2EError("non_canonical_point", `${field} must be 64 lowercase hex digits`, field);
  }
  let p;
  try {
    p = Point.fromBytes(fromHex(text));
  } catch {
    throw new E2EError("non_canonical_point", `${field} is not a canonical ristretto255 encoding`, field);
  }
  if (p.is0() && !allowIdentity) throw new E2EError("identity_point", `${field} is the identity`, field);
  return p;
}

/** @param {unknown} text @param {string} field @returns {bigint} */
export function decodeScalar(text, field) {
  if (typeof text !== "string" || !HEX64.test(text)) {
    throw new E2EError("scalar_out_of_range", `${field} must be 64 lowercase hex digits`, field);
  }
  const v = bytesToNumberLE(fromHex(text));
  if (v >= ORDER) throw new E2EError("scalar_out_of_range", `${field} is not below the group order`, field);
  return v;
}

/** A uniform non-zero scalar from 64 random bytes. */
export function randomScalar() {
  for (;;) {
    const k = bytesToNumberLE(crypto.getRandomValues(new Uint8Array(64))) % ORDER;
    if (k !== 0n) return k;
  }
}

// -- group operations ----------------------------------------------------------------

/** Constant-time k·P for secrets (k ≠ 0 mod ℓ); the identity for k ≡ 0. */
function mulSecret(/** @type {bigint} */ k, /** @type {RPoint} */ p) {
  const s = ((k % ORDER) + ORDER) % ORDER;
  return s === 0n ? Point.ZERO : p.multiply(s);
}

/** Variable-time k·P for public values. */
function mulPublic(/** @type {bigint} */ k, /** @type {RPoint} */ p) {
  return p.multiplyUnsafe(((k % ORDER) + ORDER) % ORDER);
}

/** @param {number} m */
const small = (m) => (m === 0 ? Point.ZERO : Point.BASE.multiplyUnsafe(BigInt(m)));

// -- transcripts -----------------------------------------------------------------------

/** Hash inputs, written field by field exactly as voting/e2e/transcript.py does. */
export class Transcript {
  /** @param {string} label */
  constructor(label) {
    /** @type {Uint8Array[]} */
    this.parts = [];
    this.text(DOMAIN).text(label);
  }
  /** @param {string} value */
  text(value) {
    const data = new TextEncoder().encode(value);
    this.number(data.length);
    this.parts.push(data);
    return this;
  }
  /** @param {number} value */
  number(value) {
    if (!Number.isInteger(value) || value < 0 || value >= 2 ** 32) throw new RangeError("32-bit numbers only");
    const out = new Uint8Array(4);
    new DataView(out.buffer).setUint32(0, value, false);
    this.parts.push(out);
    return this;
  }
  /** @param {RPoint} p */
  point(p) {
    this.parts.push(p.toBytes());
    return this;
  }
  /** @param {bigint} k */
  scalar(k) {
    this.parts.push(scalarBytes(k));
    return this;
  }
  copy() {
    const t = Object.create(Transcript.prototype);
    t.parts = [...this.parts];
    return /** @type {Transcript} */ (t);
  }
  data() {
    let n = 0;
    for (const p of this.parts) n += p.length;
    const out = new Uint8Array(n);
    let i = 0;
    for (const p of this.parts) {
      out.set(p, i);
      i += p.length;
    }
    return out;
  }
  challenge() {
    return bytesToNumberLE(sha512(this.data())) % ORDER;
  }
  sha256Hex() {
    return toHex(sha256(this.data()));
  }
}

// -- proofs ----------------------------------------------------------------------------

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
function proveMembership(transcript, values, m, r, alpha, beta, y) {
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
function verifyMembership(transcript, values, alpha, beta, y, proof) {
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
function proveDlog(/** @type {Transcript} */ t, /** @type {bigint} */ x) {
  const w = randomScalar();
  const c = t.copy().point(mulSecret(w, Point.BASE)).challenge();
  return { c, s: (w + c * x) % ORDER };
}

function verifyDlog(/** @type {Transcript} */ t, /** @type {RPoint} */ X, /** @type {Response} */ r) {
  const a = mulPublic(r.s, Point.BASE).subtract(mulPublic(r.c, X));
  return t.copy().point(a).challenge() === r.c;
}

/** Chaum–Pedersen: log_B X = log_P D. */
function proveEqlog(/** @type {Transcript} */ t, /** @type {bigint} */ x, /** @type {RPoint} */ p) {
  const w = randomScalar();
  const c = t.copy().point(mulSecret(w, Point.BASE)).point(mulSecret(w, p)).challenge();
  return { c, s: (w + c * x) % ORDER };
}

function verifyEqlog(/** @type {Transcript} */ t, /** @type {RPoint} */ X, /** @type {RPoint} */ p,
  /** @type {RPoint} */ d, /** @type {Response} */ r) {
  const a = mulPublic(r.s, Point.BASE).subtract(mulPublic(r.c, X));
  const b = mulPublic(r.s, p).subtract(mulPublic(r.c, d));
  return t.copy().point(a).point(b).challenge() === r.c;
}

/** @param {Response} r */
const respDict = (r) => ({ c: scalarHex(r.c), s: scalarHex(r.s) });

/** @param {unknown} d @param {string} field @returns {Response} */
function parseResponse(d, field) {
  const o = exact(d, ["c", "s"], field);
  return { c: decodeScalar(o.c, `${field}.c`), s: decodeScalar(o.s, `${field}.s`) };
}

/** @param {unknown} d @param {string[]} keys @param {string} field @returns {Record<string, unknown>} */
function exact(d, keys, field) {
  if (typeof d !== "object" || d === null || Array.isArray(d)) {
    throw new E2EError("invalid_input", `${field} must be an object`, field);
  }
  const o = /** @type {Record<string, unknown>} */ (d);
  for (const k of Object.keys(o)) {
    if (!keys.includes(k)) throw new E2EError("invalid_input", `unknown field ${field}.${k}`, `${field}.${k}`);
  }
  for (const k of keys) {
    if (!(k in o)) throw new E2EError("invalid_input", `missing field ${field}.${k}`, `${field}.${k}`);
  }
  return o;
}

// -- poll context, ballots ---------------------------------------------------------------

/**
 * @typedef {{meetingId: string, pollId: string, publicKey: RPoint, nOptions: number,
 *   minMarks: number, maxMarks: number}} PollContext
 */

/**
 * Build the context from the server's `e2e` poll description.
 * @param {{meeting_id: string, poll_id: string, public_key: string, n_options: number,
 *   min_marks: number, max_marks: number}} d
 * @returns {PollContext}
 */
export function pollContext(d) {
  if (!ID_PATTERN.test(d.meeting_id) || !ID_PATTERN.test(d.poll_id)) {
    throw new E2EError("invalid_input", "bad meeting or poll id", "poll_id");
  }
  return {
    meetingId: d.meeting_id, pollId: d.poll_id, publicKey: decodePoint(d.public_key, "public_key"),
    nOptions: d.n_options, minMarks: d.min_marks, maxMarks: d.max_marks,
  };
}

/** @param {PollContext} ctx @param {string} label */
function ctxTranscript(ctx, label) {
  return new Transcript(label).text(ctx.meetingId).text(ctx.pollId).point(ctx.publicKey)
    .number(ctx.nOptions).number(ctx.minMarks).number(ctx.maxMarks);
}

/** @typedef {{alpha: RPoint, beta: RPoint}} Ciphertext */

/** @param {Transcript} t @param {Ciphertext[]} cts */
function withCiphertexts(t, cts) {
  for (const c of cts) t.point(c.alpha).point(c.beta);
  return t;
}

/** @param {PollContext} ctx */
function markRange(ctx) {
  const out = [];
  for (let v = ctx.minMarks; v <= ctx.maxMarks; v++) out.push(v);
  return out;
}

/** @param {Ciphertext[]} cts */
function sumOf(cts) {
  let alpha = Point.ZERO;
  let beta = Point.ZERO;
  for (const c of cts) {
    alpha = alpha.add(c.alpha);
    beta = beta.add(c.beta);
  }
  return { alpha, beta };
}

/**
 * Encrypt and prove. `marks` is one 0/1 per option. Returns the wire ballot, its
 * tracker and the randomness (kept only for a Benaloh check, then discarded).
 * @param {PollContext} ctx @param {number[]} marks
 */
export function encryptBallot(ctx, marks) {
  const total = marks.reduce((a, b) => a + b, 0);
  if (marks.length !== ctx.nOptions || marks.some((m) => m !== 0 && m !== 1)
      || total < ctx.minMarks || total > ctx.maxMarks) {
    throw new E2EError("invalid_input", "marks outside the poll's limits", "marks");
  }
  const y = ctx.publicKey;
  const rs = marks.map(() => randomScalar());
  const cts = marks.map((m, j) => ({
    alpha: mulSecret(rs[j], Point.BASE),
    beta: mulSecret(rs[j], y).add(small(m)),
  }));
  const proofs = marks.map((m, j) => proveMembership(
    withCiphertexts(ctxTranscript(ctx, "option").number(j), cts), [0, 1], m, rs[j], cts[j].alpha, cts[j].beta, y));
  const s = sumOf(cts);
  const rSum = rs.reduce((a, b) => (a + b) % ORDER, 0n);
  const sumProof = proveMembership(withCiphertexts(ctxTranscript(ctx, "sum"), cts), markRange(ctx), total, rSum,
    s.alpha, s.beta, y);
  const ballot = {
    version: VERSION, meeting_id: ctx.meetingId, poll_id: ctx.pollId,
    ciphertexts: cts.map((c) => ({ alpha: pointHex(c.alpha), beta: pointHex(c.beta) })),
    proofs: proofs.map((p) => p.map(respDict)),
    sum_proof: sumProof.map(respDict),
  };
  return { ballot, tracker: trackerOf(ballot), randomness: rs.map(scalarHex) };
}

/** @typedef {ReturnType<typeof encryptBallot>["ballot"]} WireBallot */

/**
 * Parse a wire ballot (canonical points, non-identity, scalars < ℓ).
 * @param {unknown} d
 */
export function parseBallot(d) {
  const o = exact(d, ["version", "meeting_id", "poll_id", "ciphertexts", "proofs", "sum_proof"], "ballot");
  if (o.version !== VERSION) throw new E2EError("unsupported_version", "unsupported version", "ballot.version");
  if (typeof o.meeting_id !== "string" || typeof o.poll_id !== "string") {
    throw new E2EError("invalid_input", "ids must be strings", "ballot.poll_id");
  }
  if (!Array.isArray(o.ciphertexts) || !Array.isArray(o.proofs) || !Array.isArray(o.sum_proof)
      || o.proofs.length !== o.ciphertexts.length) {
    throw new E2EError("wrong_option_count", "one proof per ciphertext", "ballot.proofs");
  }
  const cts = o.ciphertexts.map((c, j) => {
    const co = exact(c, ["alpha", "beta"], `ballot.ciphertexts[${j}]`);
    return { alpha: decodePoint(co.alpha, `ballot.ciphertexts[${j}].alpha`),
      beta: decodePoint(co.beta, `ballot.ciphertexts[${j}].beta`) };
  });
  const proofs = o.proofs.map((p, j) => {
    if (!Array.isArray(p) || p.length !== 2) throw new E2EError("invalid_input", "two responses", `ballot.proofs[${j}]`);
    return p.map((r, k) => parseResponse(r, `ballot.proofs[${j}][${k}]`));
  });
  const sumProof = o.sum_proof.map((r, k) => parseResponse(r, `ballot.sum_proof[${k}]`));
  return { meetingId: o.meeting_id, pollId: o.poll_id, cts, proofs, sumProof };
}

/**
 * Verify every proof of a wire ballot; throws E2EError with the server's codes.
 * @param {PollContext} ctx @param {unknown} wire
 */
export function verifyBallot(ctx, wire) {
  const b = parseBallot(wire);
  if (b.meetingId !== ctx.meetingId || b.pollId !== ctx.pollId) {
    throw new E2EError("ballot_for_another_poll", "this ballot was made for another poll", "ballot.poll_id");
  }
  if (b.cts.length !== ctx.nOptions) throw new E2EError("wrong_option_count", "wrong option count", "ballot.ciphertexts");
  const y = ctx.publicKey;
  b.cts.forEach((c, j) => {
    const t = withCiphertexts(ctxTranscript(ctx, "option").number(j), b.cts);
    if (!verifyMembership(t, [0, 1], c.alpha, c.beta, y, b.proofs[j])) {
      throw new E2EError("invalid_proof", `the 0/1 proof of option ${j} does not verify`, `ballot.proofs[${j}]`);
    }
  });
  const s = sumOf(b.cts);
  if (!verifyMembership(withCiphertexts(ctxTranscript(ctx, "sum"), b.cts), markRange(ctx), s.alpha, s.beta, y,
    b.sumProof)) {
    throw new E2EError("invalid_proof", "the proof of the number of marks does not verify", "ballot.sum_proof");
  }
  return b;
}

/**
 * The tracker: SHA-256 of the ballot's canonical bytes, 64 hex digits.
 * @param {unknown} wire
 */
export function trackerOf(wire) {
  const b = parseBallot(wire);
  const t = new Transcript("tracker").text(b.meetingId).text(b.pollId).number(b.cts.length);
  for (const c of b.cts) t.point(c.alpha).point(c.beta);
  for (const p of b.proofs) {
    t.number(p.length);
    for (const r of p) t.scalar(r.c).scalar(r.s);
  }
  t.number(b.sumProof.length);
  for (const r of b.sumProof) t.scalar(r.c).scalar(r.s);
  return t.sha256Hex();
}

/**
 * Benaloh check: with the revealed randomness, recover the marks a ballot encrypts.
 * @param {PollContext} ctx @param {unknown} wire @param {string[]} randomness
 * @returns {number[]}
 */
export function auditBallot(ctx, wire, randomness) {
  const b = parseBallot(wire);
  if (randomness.length !== b.cts.length) throw new E2EError("audit_failed", "one randomness per option", "randomness");
  return b.cts.map((c, j) => {
    const r = decodeScalar(randomness[j], `randomness[${j}]`);
    if (!mulPublic(r, Point.BASE).equals(c.alpha)) throw new E2EError("audit_failed", "α ≠ r·B", `randomness[${j}]`);
    const ry = mulPublic(r, ctx.publicKey);
    if (ry.equals(c.beta)) return 0;
    if (ry.add(Point.BASE).equals(c.beta)) return 1;
    throw new E2EError("audit_failed", "neither 0 nor 1", `ballot.ciphertexts[${j}]`);
  });
}

// -- trustees ------------------------------------------------------------------------------

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

/** @param {PollContext} ctx @param {unknown[]} ballots wire ballots @returns {Ciphertext[]} */
export function homomorphicSums(ctx, ballots) {
  const sums = Array.from({ length: ctx.nOptions }, () => ({ alpha: Point.ZERO, beta: Point.ZERO }));
  for (const w of ballots) {
    parseBallot(w).cts.forEach((c, j) => {
      sums[j] = { alpha: sums[j].alpha.add(c.alpha), beta: sums[j].beta.add(c.beta) };
    });
  }
  return sums;
}

/** @param {Ciphertext[]} sums */
export const sumsToWire = (sums) => sums.map((c) => ({ alpha: pointHex(c.alpha), beta: pointHex(c.beta) }));

/** @param {PollContext} ctx @param {string} trusteeId @param {RPoint} share @param {number} j
 *  @param {Ciphertext} s @param {RPoint} d */
function decryptionTranscript(ctx, trusteeId, share, j, s, d) {
  return ctxTranscript(ctx, "decryption").text(trusteeId).point(share).number(j).point(s.alpha).point(s.beta)
    .point(d);
}

/**
 * A trustee's partial decryption of the sums, with one Chaum–Pedersen proof per option.
 * @param {PollContext} ctx @param {string} trusteeId @param {bigint} x @param {Ciphertext[]} sums
 */
export function partialDecrypt(ctx, trusteeId, x, sums) {
  const share = mulSecret(x, Point.BASE);
  const factors = sums.map((s) => mulSecret(x, s.alpha));
  const proofs = sums.map((s, j) => proveEqlog(decryptionTranscript(ctx, trusteeId, share, j, s, factors[j]), x,
    s.alpha));
  return { trustee_id: trusteeId, factors: factors.map(pointHex), proofs: proofs.map(respDict) };
}

/** @param {PollContext} ctx @param {string} shareHex @param {Ciphertext[]} sums @param {unknown} d */
export function verifyPartial(ctx, shareHex, sums, d) {
  const o = exact(d, ["trustee_id", "factors", "proofs"], "decryption");
  const share = decodePoint(shareHex, "public_share");
  if (typeof o.trustee_id !== "string" || !Array.isArray(o.factors) || !Array.isArray(o.proofs)
      || o.factors.length !== sums.length || o.proofs.length !== sums.length) {
    throw new E2EError("wrong_option_count", "one factor per option", "decryption.factors");
  }
  const tid = o.trustee_id;
  const factors = /** @type {unknown[]} */ (o.factors);
  const proofs = /** @type {unknown[]} */ (o.proofs);
  sums.forEach((s, j) => {
    const d = decodePoint(factors[j], `decryption.factors[${j}]`);
    const r = parseResponse(proofs[j], `decryption.proofs[${j}]`);
    if (!verifyEqlog(decryptionTranscript(ctx, tid, share, j, s, d), share, s.alpha, d, r)) {
      throw new E2EError("invalid_decryption_proof", `option ${j}`, `decryption.proofs[${j}]`);
    }
  });
}

/** Keep a secret scalar as hex (IndexedDB) and back. */
export const secretToHex = scalarHex;
/** @param {string} hex */
export const secretFromHex = (hex) => decodeScalar(hex, "secret");

// -- threshold trustees: distributed key generation (docs/e2e-ballots.md §3b) ----------------

/** @param {string} label @param {string} meetingId @param {number} round */
function dkgTranscript(label, meetingId, round) {
  return new Transcript(label).text(meetingId).number(round);
}

/**
 * Step 1: this trustee's encryption key for a round; the secret stays on this device.
 * @param {string} meetingId @param {number} round @param {string} trusteeId @param {bigint} [e]
 */
export function makeDkgKey(meetingId, round, trusteeId, e = randomScalar()) {
  const key = mulSecret(e, Point.BASE);
  const proof = proveDlog(dkgTranscript("dkg-key", meetingId, round).text(trusteeId).point(key), e);
  return { secret: e, key: { trustee_id: trusteeId, enc_key: pointHex(key), proof: respDict(proof) } };
}

/** @param {string} meetingId @param {number} round @param {string} dealer @param {RPoint[]} commitments */
function dealingTranscript(meetingId, round, dealer, commitments) {
  const t = dkgTranscript("dkg-dealing", meetingId, round).text(dealer).number(commitments.length);
  for (const c of commitments) t.point(c);
  return t;
}

/** @param {string} meetingId @param {number} round @param {string} dealer @param {string} to
 *  @param {RPoint} r @param {RPoint} k */
function sharePad(meetingId, round, dealer, to, r, k) {
  return dkgTranscript("dkg-share", meetingId, round).text(dealer).text(to).point(r).point(k).challenge();
}

/** f(j) for the coefficients a_0 … a_{t−1}. @param {bigint[]} coefficients @param {number} j */
function evaluate(coefficients, j) {
  let acc = 0n;
  for (let k = coefficients.length - 1; k >= 0; k--) acc = (acc * BigInt(j) + coefficients[k]) % ORDER;
  return acc;
}

/** Σ_k j^k·C_k: what f(j)·B must be. @param {RPoint[]} commitments @param {number} j */
function expectedSharePoint(commitments, j) {
  let acc = Point.ZERO;
  let power = 1n;
  for (const c of commitments) {
    acc = acc.add(mulPublic(power, c));
    power = (power * BigInt(j)) % ORDER;
  }
  return acc;
}

/**
 * @typedef {object} DkgView the server's public view of a round (`get_e2e`'s `dkg`)
 * @property {number} round
 * @property {string[]} trustees
 * @property {number} threshold
 * @property {string} phase
 * @property {string | null} failed_by
 * @property {{trustee_id: string, enc_key: string, proof: {c: string, s: string}}[]} keys
 * @property {{dealer: string, commitments: string[], proof: {c: string, s: string}, shares: {to: string, r: string, e: string}[]}[]} dealings
 * @property {string[]} confirmed
 * @property {{round: number, threshold: number, public_key: string, trustees: {trustee_id: string, index: number, verification_key: string}[]} | null} complete
 */

/**
 * Re-check every key and dealing of a round as this device sees it (it trusts nothing
 * the server says): the same rules as voting/e2e/dkg.py. Throws E2EError naming the trustee.
 * @param {string} meetingId @param {DkgView} view
 */
export function checkDkgView(meetingId, view) {
  /** @type {Map<string, RPoint>} */
  const keys = new Map();
  for (const k of view.keys) {
    const o = exact(k, ["trustee_id", "enc_key", "proof"], "key");
    const tid = /** @type {string} */ (o.trustee_id);
    const key = decodePoint(o.enc_key, "key.enc_key");
    const t = dkgTranscript("dkg-key", meetingId, view.round).text(tid).point(key);
    if (!view.trustees.includes(tid) || !verifyDlog(t, key, parseResponse(o.proof, "key.proof"))) {
      throw new E2EError("invalid_key_proof", `${tid}'s key proof does not verify`, tid);
    }
    keys.set(tid, key);
  }
  /** @type {Map<string, {commitments: RPoint[], shares: {to: string, r: RPoint, e: bigint}[]}>} */
  const dealings = new Map();
  for (const d of view.dealings) {
    const o = exact(d, ["dealer", "commitments", "proof", "shares"], "dealing");
    const dealer = /** @type {string} */ (o.dealer);
    const commitments = /** @type {unknown[]} */ (o.commitments).map((c, k) => decodePoint(c, `dealing.commitments[${k}]`));
    const t = dealingTranscript(meetingId, view.round, dealer, commitments);
    if (commitments.length !== view.threshold || !verifyDlog(t, commitments[0], parseResponse(o.proof, "dealing.proof"))) {
      throw new E2EError("invalid_dealing_proof", `${dealer}'s dealing proof does not verify`, dealer);
    }
    const shares = /** @type {unknown[]} */ (o.shares).map((s, j) => {
      const so = exact(s, ["to", "r", "e"], `dealing.shares[${j}]`);
      return { to: /** @type {string} */ (so.to), r: decodePoint(so.r, "r"), e: decodeScalar(so.e, "e") };
    });
    if (shares.map((s) => s.to).join("\n") !== view.trustees.join("\n")) {
      throw new E2EError("wrong_share_count", `${dealer}'s dealing needs one share per trustee`, dealer);
    }
    dealings.set(dealer, { commitments, shares });
  }
  return { keys, dealings };
}

/**
 * Step 2: deal f(j) to every trustee j, encrypted to its key, with Feldman commitments.
 * @param {string} meetingId @param {DkgView} view @param {string} dealer
 */
export function makeDealing(meetingId, view, dealer) {
  const { keys } = checkDkgView(meetingId, view);
  const coefficients = Array.from({ length: view.threshold }, () => randomScalar());
  const commitments = coefficients.map((a) => mulSecret(a, Point.BASE));
  const proof = proveDlog(dealingTranscript(meetingId, view.round, dealer, commitments), coefficients[0]);
  const shares = view.trustees.map((to, i) => {
    const encKey = keys.get(to);
    if (!encKey) throw new E2EError("key_generation_step", `no key from ${to} yet`, to);
    const rho = randomScalar();
    const r = mulSecret(rho, Point.BASE);
    const pad = sharePad(meetingId, view.round, dealer, to, r, mulSecret(rho, encKey));
    return { to, r: pointHex(r), e: scalarHex((evaluate(coefficients, i + 1) + pad) % ORDER) };
  });
  return { dealer, commitments: commitments.map(pointHex), proof: respDict(proof), shares };
}

/**
 * Step 3: open the shares dealt to this trustee and check them against the commitments.
 * Returns its secret share x_j, its verification key, and the dealers whose share fails.
 * @param {string} meetingId @param {DkgView} view @param {string} trusteeId @param {bigint} e
 */
export function checkReceived(meetingId, view, trusteeId, e) {
  const { dealings } = checkDkgView(meetingId, view);
  const j = view.trustees.indexOf(trusteeId) + 1;
  let x = 0n;
  /** @type {string[]} */
  const bad = [];
  for (const dealer of view.trustees) {
    const d = dealings.get(dealer);
    if (!d) throw new E2EError("key_generation_step", `no dealing from ${dealer} yet`, dealer);
    const share = /** @type {{to: string, r: RPoint, e: bigint}} */ (d.shares[j - 1]);
    const pad = sharePad(meetingId, view.round, dealer, trusteeId, share.r, mulSecret(e, share.r));
    const value = (((share.e - pad) % ORDER) + ORDER) % ORDER;
    if (!mulSecret(value, Point.BASE).equals(expectedSharePoint(d.commitments, j))) bad.push(dealer);
    x = (x + value) % ORDER;
  }
  return { x, verificationKey: pointHex(mulSecret(x, Point.BASE)), bad };
}

/**
 * A complaint against a dealer: reveal K = e·R for its share with a Chaum–Pedersen proof.
 * @param {string} meetingId @param {DkgView} view @param {string} by @param {bigint} e @param {string} against
 */
export function makeComplaint(meetingId, view, by, e, against) {
  const { dealings } = checkDkgView(meetingId, view);
  const d = dealings.get(against);
  const share = d?.shares.find((s) => s.to === by);
  if (!share) throw new E2EError("invalid_input", `no share from ${against}`, against);
  const k = mulSecret(e, share.r);
  const t = dkgTranscript("dkg-complaint", meetingId, view.round).text(by).text(against)
    .point(mulSecret(e, Point.BASE)).point(share.r).point(k);
  return { by, against, key: pointHex(k), proof: respDict(proveEqlog(t, e, share.r)) };
}

/** The public point of a secret scalar, hex (to match a stored secret with the server's). @param {bigint} x */
export const publicOf = (x) => pointHex(mulSecret(x, Point.BASE));
