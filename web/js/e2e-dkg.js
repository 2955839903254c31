// @ts-check
/**
 * Threshold trustees: the Pedersen/Feldman distributed key generation, t-of-n
 * (docs/e2e-ballots.md §3b, the same rules as voting/e2e/dkg.py), on a trustee's device:
 * its encryption key for a round, its dealing, opening and checking the shares dealt to
 * it, and a complaint against a dealer. It re-checks everything the server relays.
 * @module e2e-dkg
 */

import { E2EError, ORDER, Point, decodePoint, decodeScalar, exact, mulPublic, mulSecret, pointHex, randomScalar,
  scalarHex } from "./e2e-group.js";
import { Transcript } from "./e2e-transcript.js";
import { parseResponse, proveDlog, proveEqlog, respDict, verifyDlog } from "./e2e-proofs.js";

/** @typedef {import("./e2e-group.js").RPoint} RPoint */

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
 * The completed round's key as this device recomputes it from the dealings: the poll key
 * Σ C_d,0 and every trustee's verification key Σ_d Σ_k j^k·C_d,k. Throws unless the
 * server's `complete` says exactly that (a device never vouches for a key it did not
 * recompute).
 * @param {string} meetingId @param {DkgView} view
 * @returns {{publicKey: string, verificationKeys: Record<string, string>}}
 */
export function recomputeComplete(meetingId, view) {
  const { dealings } = checkDkgView(meetingId, view);
  const done = view.complete;
  if (!done || view.trustees.some((t) => !dealings.has(t))) throw new E2EError("e2e_key_incomplete", "the round is not complete", "dkg");
  let y = Point.ZERO;
  for (const t of view.trustees) y = y.add(/** @type {{commitments: RPoint[]}} */ (dealings.get(t)).commitments[0]);
  /** @type {Record<string, string>} */
  const verificationKeys = {};
  view.trustees.forEach((t, i) => {
    let vk = Point.ZERO;
    for (const d of dealings.values()) vk = vk.add(expectedSharePoint(d.commitments, i + 1));
    verificationKeys[t] = pointHex(vk);
  });
  const shown = Object.fromEntries(done.trustees.map((t) => [t.trustee_id, t.verification_key]));
  if (done.public_key !== pointHex(y) || JSON.stringify(Object.keys(shown).sort()) !== JSON.stringify([...view.trustees].sort())
    || view.trustees.some((t) => shown[t] !== verificationKeys[t])) {
    throw new E2EError("key_mismatch", "the round's key is not what its dealings give", "dkg");
  }
  return { publicKey: done.public_key, verificationKeys };
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
