// @ts-check
/**
 * The encrypted tally on a trustee's device (docs/e2e-ballots.md §5, as
 * voting/e2e/tally.py): the homomorphic sum of the board's ballots per option, and this
 * trustee's partial decryption of those sums, D_j = x·A_j, each with a Chaum–Pedersen
 * proof that log_B Y_i = log_{A_j} D_j; checking another trustee's.
 * @module e2e-tally
 */

import { E2EError, Point, decodePoint, exact, mulSecret, pointHex } from "./e2e-group.js";
import { parseResponse, proveEqlog, respDict, verifyEqlog } from "./e2e-proofs.js";
import { ctxTranscript, parseBallot } from "./e2e-ballot.js";

/** @typedef {import("./e2e-group.js").RPoint} RPoint */
/** @typedef {import("./e2e-ballot.js").PollContext} PollContext */
/** @typedef {import("./e2e-ballot.js").Ciphertext} Ciphertext */

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
