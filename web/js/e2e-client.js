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
 * @property {number | null} threshold
 * @property {number | null} round
 * @property {string[]} decrypted_by
 * @property {string[]} waiting_for
 * @property {number | null} counted
 */
/**
 * @typedef {object} TrusteeState the server's `get_e2e` answer
 * @property {{trustee_id: string, role: string, key: {trustee_id: string, public_share: string, proof: {c: string, s: string}} | null}[]} trustees
 * @property {string | null} public_key
 * @property {number | null} threshold 2 with a deputy, else null (n-of-n)
 * @property {import("./e2e.js").DkgView | null} dkg the current key generation round (null without a deputy)
 * @property {E2EPoll | null} [poll]
 * @property {import("./e2e.js").DkgView | null} [poll_dkg] the round whose key a threshold poll uses
 * @property {{tracker: string, ballot: unknown, superseded: boolean}[]} [board]
 * @property {{alpha: string, beta: string}[]} [sums]
 */
/** @typedef {{secret: string, public_share: string, dealing?: string[]}} StoredShare  dealing: the commitments this device dealt (key generation) */

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

/** @param {number} meetingId @param {string} memberId @param {number} round */
const dkgKey = (meetingId, memberId, round) => `${meetingId}/${memberId}/dkg/${round}`;

/** A threshold trustee's encryption secret e_j for a round (docs/e2e-ballots.md §3b).
 * @param {number} meetingId @param {string} memberId @param {number} round @returns {Promise<StoredShare | null>} */
export async function loadDkgSecret(meetingId, memberId, round) {
  return (await shares.get(dkgKey(meetingId, memberId, round))) ?? null;
}

/** @param {number} meetingId @param {string} memberId @param {number} round @param {StoredShare} share */
export async function saveDkgSecret(meetingId, memberId, round, share) {
  await shares.put(dkgKey(meetingId, memberId, round), share);
}

/**
 * Before confirming, a trustee's device checks that the round the server shows holds its
 * own key and dealing exactly as this device made them. A server that swapped every
 * dealing for its own would otherwise learn the poll key while every share checked out.
 * (A dealing made before this check existed, or restored from a backup file, has no
 * remembered commitments: then only the key is checked.)
 * @param {import("./e2e.js").DkgView} view @param {string} trusteeId
 * @param {{public_share: string, dealing?: string[]}} local
 */
export function checkOwnSteps(view, trusteeId, local) {
  const key = view.keys.find((k) => k.trustee_id === trusteeId);
  if (!key || key.enc_key !== local.public_share) {
    throw new e2e.E2EError("own_step_altered", "the server shows another key for this trustee", "key");
  }
  if (!local.dealing) return;
  const dealing = view.dealings.find((d) => d.dealer === trusteeId);
  if (!dealing || JSON.stringify(dealing.commitments) !== JSON.stringify(local.dealing)) {
    throw new e2e.E2EError("own_step_altered", "the server shows another dealing for this trustee", "dealing");
  }
}

// -- the passphrase-encrypted backup file (docs/e2e-ballots.md §3c) ---------------------------

export const BACKUP_FORMAT = "meetingd-trustee-backup";
const BACKUP_ITERATIONS = 600000;
export const MIN_PASSPHRASE = 12;

/** @param {Uint8Array} bytes */
function toB64(bytes) {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s);
}

/** @param {string} text @returns {Uint8Array<ArrayBuffer>} */
function fromB64(text) {
  return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
}

/**
 * @typedef {object} Backup
 * @property {string} format
 * @property {number} version
 * @property {string} meeting_id
 * @property {string} trustee_id
 * @property {"share" | "dkg"} kind
 * @property {number | null} round
 * @property {string} public
 * @property {{name: string, hash: string, iterations: number, salt: string}} kdf
 * @property {{name: string, iv: string}} cipher
 * @property {string} ciphertext
 */

/** @param {Backup} b */
const backupAad = (b) => new TextEncoder().encode(
  [b.format, b.version, b.meeting_id, b.trustee_id, b.kind, b.round ?? "", b.public].join("|"));

/** @param {string} passphrase @param {Uint8Array<ArrayBuffer>} salt @param {number} iterations */
async function backupKey(passphrase, salt, iterations) {
  const base = await crypto.subtle.importKey("raw", new TextEncoder().encode(passphrase), "PBKDF2", false, ["deriveKey"]);
  return crypto.subtle.deriveKey({ name: "PBKDF2", hash: "SHA-256", salt, iterations }, base,
    { name: "AES-GCM", length: 256 }, false, ["encrypt", "decrypt"]);
}

/**
 * Encrypt a trustee's secret (64 hex digits) under a passphrase.
 * @param {{meetingId: string, trusteeId: string, kind: "share" | "dkg", round: number | null, secret: string, public: string}} what
 * @param {string} passphrase
 * @returns {Promise<Backup>}
 */
export async function makeBackup(what, passphrase) {
  if (passphrase.length < MIN_PASSPHRASE) throw new e2e.E2EError("backup_short", "passphrase too short", "passphrase");
  const salt = crypto.getRandomValues(new Uint8Array(16));
  const iv = crypto.getRandomValues(new Uint8Array(12));
  /** @type {Backup} */
  const b = {
    format: BACKUP_FORMAT, version: 1, meeting_id: what.meetingId, trustee_id: what.trusteeId, kind: what.kind,
    round: what.round, public: what.public,
    kdf: { name: "PBKDF2", hash: "SHA-256", iterations: BACKUP_ITERATIONS, salt: toB64(salt) },
    cipher: { name: "AES-GCM", iv: toB64(iv) }, ciphertext: "",
  };
  const key = await backupKey(passphrase, salt, BACKUP_ITERATIONS);
  const ct = await crypto.subtle.encrypt({ name: "AES-GCM", iv, additionalData: backupAad(b) }, key,
    new TextEncoder().encode(what.secret));
  b.ciphertext = toB64(new Uint8Array(ct));
  return b;
}

/**
 * Open a backup file: its header, and the secret once the passphrase and the header check.
 * @param {string} text the file's content @param {string} passphrase
 */
export async function openBackup(text, passphrase) {
  /** @type {Backup} */
  let b;
  try {
    b = JSON.parse(text);
  } catch {
    throw new e2e.E2EError("backup_invalid", "not a backup file", "file");
  }
  if (b?.format !== BACKUP_FORMAT || b.version !== 1 || b.kdf?.name !== "PBKDF2" || b.cipher?.name !== "AES-GCM") {
    throw new e2e.E2EError("backup_invalid", "not a backup file", "file");
  }
  let plain;
  try {
    const key = await backupKey(passphrase, fromB64(b.kdf.salt), b.kdf.iterations);
    plain = await crypto.subtle.decrypt({ name: "AES-GCM", iv: fromB64(b.cipher.iv), additionalData: backupAad(b) },
      key, fromB64(b.ciphertext));
  } catch {
    throw new e2e.E2EError("backup_invalid", "wrong passphrase or altered file", "passphrase");
  }
  const secret = new TextDecoder().decode(plain);
  if (e2e.publicOf(e2e.secretFromHex(secret)) !== b.public) {
    throw new e2e.E2EError("backup_invalid", "the secret does not match its public key", "file");
  }
  return { backup: b, secret };
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
    /** @type {Set<string>} key generation steps already tried ("round/step") */
    this.tried = new Set();
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
    if (state.dkg) {
      const posted = state.dkg.keys.find((k) => k.trustee_id === this.myId);
      const here = await loadDkgSecret(this.link.meetingId, this.myId, state.dkg.round);
      if (!posted) return here ? "unposted" : "none";
      return here && here.public_share === posted.enc_key ? "here" : "elsewhere";
    }
    const mine = state.trustees.find((t) => t.trustee_id === this.myId);
    const local = await loadShare(this.link.meetingId, this.myId);
    if (!mine?.key) return local ? "unposted" : "none";
    return local && local.public_share === mine.key.public_share ? "here" : "elsewhere";
  }

  /** Create the share in this browser (kept in IndexedDB) and post its public part. */
  async createKey() {
    const now = await this.state();
    if (now.dkg) return this.postDkgKey(now.dkg);
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
    const state = await this.state(pollId, true);
    const secret = await this.decryptionSecret(state);
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
    const part = e2e.partialDecrypt(ctx, this.myId, secret, sums);
    return this.link.emit("post_partial_decryption", { poll_id: pollId, decryption: part });
  }

  /**
   * The secret this trustee decrypts a poll with: its n-of-n share, or (threshold) x_j
   * recomputed from the dealings of the poll's key generation round and this browser's e_j.
   * @param {TrusteeState} state @returns {Promise<bigint>}
   */
  async decryptionSecret(state) {
    const mid = this.link.meetingId;
    const view = state.poll?.threshold ? state.poll_dkg : null;
    if (!view) {
      const local = await loadShare(mid, this.myId);
      if (!local) throw new e2e.E2EError("share_missing", "this browser does not hold your key share", "secret");
      return e2e.secretFromHex(local.secret);
    }
    const local = await loadDkgSecret(mid, this.myId, view.round);
    if (!local) throw new e2e.E2EError("share_missing", "this browser does not hold your key share", "secret");
    const got = e2e.checkReceived(String(mid), view, this.myId, e2e.secretFromHex(local.secret));
    const mine = view.complete?.trustees.find((t) => t.trustee_id === this.myId);
    if (got.bad.length || !mine || mine.verification_key !== got.verificationKey) {
      throw new e2e.E2EError("share_missing", "the shares on the server do not give this trustee's key", "secret");
    }
    return got.x;
  }

  /** Step 1 of the key generation: make (or re-post) this browser's encryption key.
   * @param {import("./e2e.js").DkgView} view */
  async postDkgKey(view) {
    const mid = this.link.meetingId;
    const local = await loadDkgSecret(mid, this.myId, view.round);
    const made = e2e.makeDkgKey(String(mid), view.round, this.myId, local ? e2e.secretFromHex(local.secret) : undefined);
    if (!local) {
      await saveDkgSecret(mid, this.myId, view.round, { secret: e2e.secretToHex(made.secret), public_share: made.key.enc_key });
    }
    await this.link.emit("post_dkg_step", { round: view.round, step: "key", data: made.key });
    return this.state();
  }

  /**
   * Take this trustee's next key generation step if it is due (deal once every key is in;
   * check the shares and confirm, or complain, once every dealing is in). Each step is
   * tried once per round; returns the step taken or null.
   * @param {TrusteeState} state
   */
  async advance(state) {
    const view = state.dkg;
    if (!view || !view.trustees.includes(this.myId)) return null;
    const mid = this.link.meetingId;
    const local = await loadDkgSecret(mid, this.myId, view.round);
    if (!local) return null;
    const tried = this.tried;
    if (view.phase === "dealings" && !view.dealings.some((d) => d.dealer === this.myId)) {
      if (tried.has(`${view.round}/dealing`)) return null;
      tried.add(`${view.round}/dealing`);
      const dealing = e2e.makeDealing(String(mid), view, this.myId);
      // remembered before it is sent: at step 3 this device checks the server relayed it unchanged
      await saveDkgSecret(mid, this.myId, view.round, { ...local, dealing: dealing.commitments });
      await this.link.emit("post_dkg_step", { round: view.round, step: "dealing", data: dealing });
      return "dealing";
    }
    if (view.phase === "confirmations" && !view.confirmed.includes(this.myId)) {
      if (tried.has(`${view.round}/confirm`)) return null;
      tried.add(`${view.round}/confirm`);
      checkOwnSteps(view, this.myId, local);
      const e = e2e.secretFromHex(local.secret);
      const got = e2e.checkReceived(String(mid), view, this.myId, e);
      if (got.bad.length) {
        const complaint = e2e.makeComplaint(String(mid), view, this.myId, e, got.bad[0]);
        await this.link.emit("post_dkg_step", { round: view.round, step: "complaint", data: complaint });
        return "complaint";
      }
      await this.link.emit("post_dkg_step", { round: view.round, step: "confirmation",
        data: { verification_key: got.verificationKey } });
      return "confirmation";
    }
    return null;
  }

  /**
   * A passphrase-encrypted backup of this browser's secret for the current keys.
   * @param {string} passphrase
   */
  async backup(passphrase) {
    const state = await this.state();
    const mid = this.link.meetingId;
    const local = state.dkg ? await loadDkgSecret(mid, this.myId, state.dkg.round) : await loadShare(mid, this.myId);
    if (!local) throw new e2e.E2EError("no_secret", "no key in this browser", "secret");
    return makeBackup({ meetingId: String(mid), trusteeId: this.myId, kind: state.dkg ? "dkg" : "share",
      round: state.dkg ? state.dkg.round : null, secret: local.secret, public: local.public_share }, passphrase);
  }

  /**
   * Restore a backup into this browser, once it is shown to be this trustee's key for
   * this meeting as the server holds it.
   * @param {string} text @param {string} passphrase
   */
  async restore(text, passphrase) {
    const { backup, secret } = await openBackup(text, passphrase);
    const state = await this.state();
    const mid = this.link.meetingId;
    if (backup.meeting_id !== String(mid) || backup.trustee_id !== this.myId) {
      throw new e2e.E2EError("backup_other", "another meeting or trustee", "file");
    }
    const record = { secret, public_share: backup.public };
    if (backup.kind === "dkg") {
      const posted = state.dkg?.round === backup.round ? state.dkg.keys.find((k) => k.trustee_id === this.myId) : null;
      if (!posted || posted.enc_key !== backup.public) throw new e2e.E2EError("backup_other", "not the posted key", "file");
      await saveDkgSecret(mid, this.myId, /** @type {number} */ (backup.round), record);
    } else {
      const mine = state.trustees.find((t) => t.trustee_id === this.myId);
      if (!mine?.key || mine.key.public_share !== backup.public) throw new e2e.E2EError("backup_other", "not the posted key", "file");
      await saveShare(mid, this.myId, record);
    }
    return state;
  }
}
