// @ts-check
/**
 * Encrypted ballots (docs/e2e-ballots.md §4, as voting/e2e/ballot.py): the poll context
 * every proof is bound to; per option an exponential-ElGamal ciphertext of 0 or 1 with
 * its 0/1 proof, and one proof that the number of marks is within the poll's limits;
 * parsing and verifying a wire ballot; its tracker; the Benaloh (cast-as-intended) check.
 * @module e2e-ballot
 */

import { E2EError, ORDER, Point, decodePoint, decodeScalar, exact, mulPublic, mulSecret, pointHex, randomScalar,
  scalarHex, small } from "./e2e-group.js";
import { Transcript } from "./e2e-transcript.js";
import { parseResponse, proveMembership, respDict, verifyMembership } from "./e2e-proofs.js";

/** @typedef {import("./e2e-group.js").RPoint} RPoint */

export const VERSION = 1;
const ID_PATTERN = /^[A-Za-z0-9_.:-]{1,64}$/;

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
export function ctxTranscript(ctx, label) {
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
