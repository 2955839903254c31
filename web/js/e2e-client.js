// @ts-check
/**
 * The secret-ballot side of a meeting link, without DOM: a trustee's key share kept in
 * this browser's IndexedDB, the trustee's check-the-board-then-decrypt step, and the
 * voter's encryption of a choice. The cryptography is in e2e.js (docs/e2e-ballots.md).
 * @module e2e-client
 */
import * as e2e from "./e2e.js";
import { keyValueStore } from "./idb.js";

/** @typedef {import("./protocol.js").MeetingLink} MeetingLink */
/**
 * @typedef {object} E2EContext what every ballot proof of a poll is bound to
 * @property {string} meeting_id
 * @property {string} poll_id
 * @property {string} public_key
 * @property {number} n_options
 * @property {number} min_marks
 * @property {number} max_marks
 */
/**
 * @typedef {object} E2EPoll
 * @property {E2EContext} context
 * @property {string[]} trustees
 * @property {string[]} decrypted_by
 * @property {string[]} waiting_for
 * @property {number | null} counted
 */
/**
 * @typedef {object} TrusteeState the server's `get_e2e` answer
 * @property {{trustee_id: string, role: string, key: {trustee_id: string, public_share: string, proof: {c: string, s: string}} | null}[]} trustees
 * @property {string | null} public_key
 * @property {E2EPoll | null} [poll]
 * @property {{tracker: string, ballot: unknown, superseded: boolean}[]} [board]
 * @property {{alpha: string, beta: string}[]} [sums]
 */
/** @typedef {{secret: string, public_share: string}} StoredShare */

const shares = keyValueStore("meetingd-e2e", "shares");

/** @param {number} meetingId @param {string} memberId */
const shareKey = (meetingId, memberId) => `${meetingId}/${memberId}`;

/** @param {number} meetingId @param {string} memberId @returns {Promise<StoredShare | null>} */
export async function loadShare(meetingId, memberId) {
  return (await shares.get(shareKey(meetingId, memberId))) ?? null;
}

/** @param {number} meetingId @param {string} memberId @param {StoredShare} share */
export async function saveShare(meetingId, memberId, share) {
  await shares.put(shareKey(meetingId, memberId), share);
}

/**
 * Encrypt a voter's marks for a poll and prove them. Returns the wire ballot, its
 * tracker, and the randomness (kept only for a "check this ballot", then discarded).
 * @param {E2EContext} context
 * @param {number[]} chosen option indices
 */
export function prepareBallot(context, chosen) {
  const ctx = e2e.pollContext(context);
  const marks = Array.from({ length: ctx.nOptions }, (_, i) => (chosen.includes(i) ? 1 : 0));
  return e2e.encryptBallot(ctx, marks);
}

/**
 * Benaloh check: which options the ballot encrypts, opened with its randomness.
 * @param {E2EContext} context
 * @param {unknown} ballot
 * @param {string[]} randomness
 * @returns {number[]} the chosen option indices
 */
export function checkBallot(context, ballot, randomness) {
  const marks = e2e.auditBallot(e2e.pollContext(context), ballot, randomness);
  return marks.flatMap((m, i) => (m ? [i] : []));
}

/** A trustee's device: its key share, and decrypting a closed poll's sums. */
export class TrusteeDevice {
  /** @param {MeetingLink} link @param {string} myId */
  constructor(link, myId) {
    this.link = link;
    this.myId = myId;
  }

  /** @param {number | null} [pollId] @param {boolean} [board] @returns {Promise<TrusteeState>} */
  async state(pollId = null, board = false) {
    return /** @type {TrusteeState} */ (await this.link.emit("get_e2e", pollId === null ? {} : { poll_id: pollId, board }));
  }

  /**
   * Where this trustee's share is: `"here"` (posted, and this browser holds its secret),
   * `"none"` (not created yet), `"elsewhere"` (posted from another browser or lost).
   * @param {TrusteeState} state
   */
  async keyStatus(state) {
    const mine = state.trustees.find((t) => t.trustee_id === this.myId);
    const local = await loadShare(this.link.meetingId, this.myId);
    if (!mine?.key) return local ? "unposted" : "none";
    return local && local.public_share === mine.key.public_share ? "here" : "elsewhere";
  }

  /** Create the share in this browser (kept in IndexedDB) and post its public part. */
  async createKey() {
    let local = await loadShare(this.link.meetingId, this.myId);
    /** @type {any} */
    let key;
    if (local) {
      // a share made here whose post did not get through: post the same share again
      const x = e2e.secretFromHex(local.secret);
      key = e2e.makeTrusteeKeyFrom(String(this.link.meetingId), this.myId, x);
    } else {
      const made = e2e.makeTrusteeKey(String(this.link.meetingId), this.myId);
      local = { secret: e2e.secretToHex(made.secret), public_share: made.key.public_share };
      await saveShare(this.link.meetingId, this.myId, local);
      key = made.key;
    }
    return /** @type {TrusteeState} */ (await this.link.emit("post_trustee_key", { key }));
  }

  /**
   * Fetch the board, verify every ballot and recompute the sums, then decrypt exactly
   * those sums and post the partial decryption. Refuses if anything does not check.
   * @param {number} pollId
   * @param {(done: number, total: number) => void} [progress]
   */
  async decrypt(pollId, progress = () => {}) {
    const local = await loadShare(this.link.meetingId, this.myId);
    if (!local) throw new e2e.E2EError("share_missing", "this browser does not hold your key share", "secret");
    const state = await this.state(pollId, true);
    if (!state.poll || !state.board || !state.sums) throw new e2e.E2EError("poll_not_closed", "no board yet", "poll_id");
    const ctx = e2e.pollContext(state.poll.context);
    const counted = [];
    let done = 0;
    for (const entry of state.board) {
      e2e.verifyBallot(ctx, entry.ballot); // throws on any bad proof: nothing is decrypted
      if (e2e.trackerOf(entry.ballot) !== entry.tracker) {
        throw new e2e.E2EError("tracker_mismatch", "a tracker is not its ballot's hash", "board");
      }
      if (!entry.superseded) counted.push(entry.ballot);
      done += 1;
      if (done % 5 === 0 || done === state.board.length) {
        progress(done, state.board.length);
        await new Promise((r) => setTimeout(r, 0)); // let the page breathe
      }
    }
    const sums = e2e.homomorphicSums(ctx, counted);
    if (JSON.stringify(e2e.sumsToWire(sums)) !== JSON.stringify(state.sums)) {
      throw new e2e.E2EError("sums_mismatch", "the published sums are not the board's", "sums");
    }
    const part = e2e.partialDecrypt(ctx, this.myId, e2e.secretFromHex(local.secret), sums);
    return this.link.emit("post_partial_decryption", { poll_id: pollId, decryption: part });
  }
}
