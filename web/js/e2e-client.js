// @ts-check
/**
 * The secret-ballot side of a meeting link, without DOM: a trustee's key share kept in
 * this browser's IndexedDB, the trustee's check-the-board-then-decrypt step, and the
 * voter's encryption of a choice. The cryptography is in the e2e-*.js modules
 * (docs/e2e-ballots.md).
 * @module e2e-client
 */
import { auditBallot, encryptBallot, pollContext, trackerOf, verifyBallot } from "./e2e-ballot.js";
import { checkReceived, makeComplaint, makeDealing, makeDkgKey, recomputeComplete } from "./e2e-dkg.js";
import { E2EError } from "./e2e-group.js";
import { jointKey, makeTrusteeKey, makeTrusteeKeyFrom, publicOf, secretFromHex, secretToHex, verifyTrusteeKey } from "./e2e-keys.js";
import { homomorphicSums, partialDecrypt, sumsToWire } from "./e2e-tally.js";
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
 * @property {import("./e2e-dkg.js").DkgView | null} dkg the current key generation round (null without a deputy)
 * @property {E2EPoll | null} [poll]
 * @property {import("./e2e-dkg.js").DkgView | null} [poll_dkg] the round whose key a threshold poll uses
 * @property {{tracker: string, ballot: unknown, superseded: boolean}[]} [board]
 * @property {{entries: {tracker: string, ballot: unknown}[], next: number}} [live_board] a trustee following an open poll
 * @property {{trustee_id: string, public_key: string, statement: string, signature: string, verifier_key: string}[]} [statements]
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
 * @param {import("./e2e-dkg.js").DkgView} view @param {string} trusteeId
 * @param {{public_share: string, dealing?: string[]}} local
 */
export function checkOwnSteps(view, trusteeId, local) {
  const key = view.keys.find((k) => k.trustee_id === trusteeId);
  if (!key || key.enc_key !== local.public_share) {
    throw new E2EError("own_step_altered", "the server shows another key for this trustee", "key");
  }
  if (!local.dealing) return;
  const dealing = view.dealings.find((d) => d.dealer === trusteeId);
  if (!dealing || JSON.stringify(dealing.commitments) !== JSON.stringify(local.dealing)) {
    throw new E2EError("own_step_altered", "the server shows another dealing for this trustee", "dealing");
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
  if (passphrase.length < MIN_PASSPHRASE) throw new E2EError("backup_short", "passphrase too short", "passphrase");
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
    throw new E2EError("backup_invalid", "not a backup file", "file");
  }
  if (b?.format !== BACKUP_FORMAT || b.version !== 1 || b.kdf?.name !== "PBKDF2" || b.cipher?.name !== "AES-GCM") {
    throw new E2EError("backup_invalid", "not a backup file", "file");
  }
  let plain;
  try {
    const key = await backupKey(passphrase, fromB64(b.kdf.salt), b.kdf.iterations);
    plain = await crypto.subtle.decrypt({ name: "AES-GCM", iv: fromB64(b.cipher.iv), additionalData: backupAad(b) },
      key, fromB64(b.ciphertext));
  } catch {
    throw new E2EError("backup_invalid", "wrong passphrase or altered file", "passphrase");
  }
  const secret = new TextDecoder().decode(plain);
  if (publicOf(secretFromHex(secret)) !== b.public) {
    throw new E2EError("backup_invalid", "the secret does not match its public key", "file");
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
  const ctx = pollContext(context);
  const marks = Array.from({ length: ctx.nOptions }, (_, i) => (chosen.includes(i) ? 1 : 0));
  return encryptBallot(ctx, marks);
}

/**
 * Benaloh check: which options the ballot encrypts, opened with its randomness.
 * @param {E2EContext} context
 * @param {unknown} ballot
 * @param {string[]} randomness
 * @returns {number[]} the chosen option indices
 */
export function checkBallot(context, ballot, randomness) {
  const marks = auditBallot(pollContext(context), ballot, randomness);
  return marks.flatMap((m, i) => (m ? [i] : []));
}

/**
 * One poll's board as this trustee's device has checked it: every ballot's proofs are
 * verified once, when it first comes (live chunks while the poll is open, or the closed
 * board), and at close every entry must be a ballot checked here (the same bytes) or is
 * checked then; the sums must be those of the entries not superseded. As
 * `voting/e2e/follow.py` on the server's side of the spec.
 */
export class BoardFollower {
  /** @param {ReturnType<typeof pollContext>} ctx */
  constructor(ctx) {
    this.ctx = ctx;
    /** the wire context it was made for (JSON), set by TrusteeDevice.follower */
    this.context = "";
    this.liveFrom = 0;
    /** @type {Map<string, string>} tracker → the wire ballot as it came (JSON) */
    this.checked = new Map();
  }

  /** @param {unknown} entry @param {string} field @returns {{tracker: string, ballot: unknown, superseded?: unknown}} */
  check(entry, field) {
    const e = /** @type {{tracker: string, ballot: unknown, superseded?: unknown}} */ (entry);
    if (!e || typeof e !== "object" || typeof e.tracker !== "string" || !e.ballot || typeof e.ballot !== "object") {
      throw new E2EError("invalid_input", `${field} must be a board entry with its ballot`, field);
    }
    const wire = JSON.stringify(e.ballot);
    if (this.checked.get(e.tracker) === wire) return e;
    verifyBallot(this.ctx, e.ballot); // throws on any bad proof: nothing is decrypted
    if (trackerOf(e.ballot) !== e.tracker) throw new E2EError("tracker_mismatch", "a tracker is not its ballot's hash", field);
    this.checked.set(e.tracker, wire);
    return e;
  }

  /** @param {unknown[]} entries @param {number} next @returns {Promise<number>} how many were new */
  async takeLive(entries, next) {
    const before = this.checked.size;
    for (let i = 0; i < entries.length; i += 1) {
      this.check(entries[i], `live_board.entries[${i}]`);
      if (i % 5 === 4) await new Promise((r) => setTimeout(r, 0)); // let the page breathe
    }
    this.liveFrom = next;
    return this.checked.size - before;
  }

  /**
   * @param {unknown[]} board @param {unknown} sums
   * @param {(done: number, total: number) => void} progress
   */
  async closedSums(board, sums, progress) {
    const counted = [];
    const seen = new Set();
    for (let i = 0; i < board.length; i += 1) {
      const fresh = !this.checked.has(/** @type {{tracker?: string}} */ (board[i])?.tracker ?? "");
      const e = this.check(board[i], `board[${i}]`);
      if (typeof e.superseded !== "boolean") throw new E2EError("invalid_input", `board[${i}].superseded must be true or false`, `board[${i}]`);
      if (seen.has(e.tracker)) throw new E2EError("duplicate_ballot", "a ballot is on the board twice", `board[${i}]`);
      seen.add(e.tracker);
      if (!e.superseded) counted.push(e.ballot);
      if (i === board.length - 1 || (fresh && i % 5 === 4) || i % 100 === 99) {
        progress(i + 1, board.length);
        await new Promise((r) => setTimeout(r, 0));
      }
    }
    const mine = homomorphicSums(this.ctx, counted);
    if (JSON.stringify(sumsToWire(mine)) !== JSON.stringify(sums)) {
      throw new E2EError("sums_mismatch", "the published sums are not the board's", "sums");
    }
    return mine;
  }
}

/** A trustee's device: its key share, following a poll's board, and decrypting its sums. */
export class TrusteeDevice {
  /** @param {MeetingLink} link @param {string} myId */
  constructor(link, myId) {
    this.link = link;
    this.myId = myId;
    /** @type {Set<string>} key generation steps already tried ("round/step") */
    this.tried = new Set();
    /** @type {Map<number, BoardFollower>} the boards this device has checked, by poll */
    this.followers = new Map();
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
      const x = secretFromHex(local.secret);
      key = makeTrusteeKeyFrom(String(this.link.meetingId), this.myId, x);
    } else {
      const made = makeTrusteeKey(String(this.link.meetingId), this.myId);
      local = { secret: secretToHex(made.secret), public_share: made.key.public_share };
      await saveShare(this.link.meetingId, this.myId, local);
      key = made.key;
    }
    return /** @type {TrusteeState} */ (await this.link.emit("post_trustee_key", { key }));
  }

  /**
   * The follower of a poll, for the context the server shows: it must be this poll's and
   * this meeting's, and the same context every time (a poll's context is fixed at open).
   * @param {number} pollId @param {E2EContext} context
   */
  follower(pollId, context) {
    if (context.poll_id !== String(pollId) || context.meeting_id !== String(this.link.meetingId)) {
      throw new E2EError("context_mismatch", "the server shows another poll's or meeting's context", "context");
    }
    let f = this.followers.get(pollId);
    if (!f) {
      f = new BoardFollower(pollContext(context));
      f.context = JSON.stringify(context);
      this.followers.set(pollId, f);
    } else if (f.context !== JSON.stringify(context)) {
      throw new E2EError("context_mismatch", "the server shows this poll with another context than before", "context");
    }
    return f;
  }

  /**
   * While a poll is open: fetch the live board's new chunks and verify their ballots now,
   * so that little is left at close (docs/e2e-ballots.md §5a). Returns how many are new.
   * @param {number} pollId
   */
  async follow(pollId) {
    const known = this.followers.get(pollId);
    const state = /** @type {TrusteeState} */ (await this.link.emit("get_e2e", { poll_id: pollId, live_from: known?.liveFrom ?? 0 }));
    if (!state.poll || !state.live_board) return 0;
    const f = this.follower(pollId, state.poll.context);
    return f.takeLive(state.live_board.entries, state.live_board.next);
  }

  /**
   * Fetch the board, check every ballot (those verified while following need only be the
   * same bytes) and recompute the sums, then decrypt exactly those sums and post the
   * partial decryption. Refuses if anything does not check.
   * @param {number} pollId
   * @param {(done: number, total: number) => void} [progress]
   */
  async decrypt(pollId, progress = () => {}) {
    const state = await this.state(pollId, true);
    const secret = await this.decryptionSecret(state);
    if (!state.poll || !state.board || !state.sums) throw new E2EError("poll_not_closed", "no board yet", "poll_id");
    const f = this.follower(pollId, state.poll.context);
    const sums = await f.closedSums(state.board, state.sums, progress);
    const part = partialDecrypt(f.ctx, this.myId, secret, sums);
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
      if (!local) throw new E2EError("share_missing", "this browser does not hold your key share", "secret");
      return secretFromHex(local.secret);
    }
    const local = await loadDkgSecret(mid, this.myId, view.round);
    if (!local) throw new E2EError("share_missing", "this browser does not hold your key share", "secret");
    const got = checkReceived(String(mid), view, this.myId, secretFromHex(local.secret));
    const mine = view.complete?.trustees.find((t) => t.trustee_id === this.myId);
    if (got.bad.length || !mine || mine.verification_key !== got.verificationKey) {
      throw new E2EError("share_missing", "the shares on the server do not give this trustee's key", "secret");
    }
    return got.x;
  }

  /** Step 1 of the key generation: make (or re-post) this browser's encryption key.
   * @param {import("./e2e-dkg.js").DkgView} view */
  async postDkgKey(view) {
    const mid = this.link.meetingId;
    const local = await loadDkgSecret(mid, this.myId, view.round);
    const made = makeDkgKey(String(mid), view.round, this.myId, local ? secretFromHex(local.secret) : undefined);
    if (!local) {
      await saveDkgSecret(mid, this.myId, view.round, { secret: secretToHex(made.secret), public_share: made.key.enc_key });
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
      const dealing = makeDealing(String(mid), view, this.myId);
      // remembered before it is sent: at step 3 this device checks the server relayed it unchanged
      await saveDkgSecret(mid, this.myId, view.round, { ...local, dealing: dealing.commitments });
      await this.link.emit("post_dkg_step", { round: view.round, step: "dealing", data: dealing });
      return "dealing";
    }
    if (view.phase === "confirmations" && !view.confirmed.includes(this.myId)) {
      if (tried.has(`${view.round}/confirm`)) return null;
      tried.add(`${view.round}/confirm`);
      checkOwnSteps(view, this.myId, local);
      const e = secretFromHex(local.secret);
      const got = checkReceived(String(mid), view, this.myId, e);
      if (got.bad.length) {
        const complaint = makeComplaint(String(mid), view, this.myId, e, got.bad[0]);
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
    if (!local) throw new E2EError("no_secret", "no key in this browser", "secret");
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
      throw new E2EError("backup_other", "another meeting or trustee", "file");
    }
    const record = { secret, public_share: backup.public };
    if (backup.kind === "dkg") {
      const posted = state.dkg?.round === backup.round ? state.dkg.keys.find((k) => k.trustee_id === this.myId) : null;
      if (!posted || posted.enc_key !== backup.public) throw new E2EError("backup_other", "not the posted key", "file");
      await saveDkgSecret(mid, this.myId, /** @type {number} */ (backup.round), record);
    } else {
      const mine = state.trustees.find((t) => t.trustee_id === this.myId);
      if (!mine?.key || mine.key.public_share !== backup.public) throw new E2EError("backup_other", "not the posted key", "file");
      await saveShare(mid, this.myId, record);
    }
    return state;
  }
}

// -- the trustees' statements of the poll key (docs/e2e-ballots.md §3d) ----------------

export const STATEMENT_HEADER = "meetingd e2e key statement v1";

/**
 * The exact text a trustee signs, as `voting/e2e/statement.py` builds it.
 * @param {string} meetingId @param {string} publicKey hex @param {Record<string, string>} shares trustee id → hex
 */
export function statementText(meetingId, publicKey, shares) {
  const ids = Object.keys(shares).sort();
  if (!ids.length) throw new E2EError("invalid_input", "a key statement names the trustees' shares", "shares");
  const lines = [STATEMENT_HEADER, `meeting ${meetingId}`, `public_key ${publicKey}`, ...ids.map((t) => `share ${t} ${shares[t]}`)];
  return `${lines.join("\n")}\n`;
}

/**
 * The poll key and every trustee's share once complete, as this device recomputes and
 * checks them (never as the server merely says), or null while incomplete. Throws
 * (`key_mismatch`, `invalid_key_proof`, `own_step_altered`) when what the server shows
 * does not add up, so an officer's device never vouches for a key it has not checked.
 * n-of-n: every share's proof, the key = the sum of the shares, this device's own share.
 * Threshold: this device's own steps, then the key and verification keys recomputed
 * from the round's dealings.
 * @param {string} meetingId @param {string} myId @param {TrusteeState} state
 * @returns {Promise<{publicKey: string, shares: Record<string, string>} | null>}
 */
export async function checkedKey(meetingId, myId, state) {
  if (!state.public_key) return null;
  const mid = Number(meetingId);
  if (state.dkg) {
    if (!state.dkg.complete) return null;
    const local = await loadDkgSecret(mid, myId, state.dkg.round);
    if (!local) throw new E2EError("share_missing", "this browser does not hold your key share", "secret");
    checkOwnSteps(state.dkg, myId, local);
    const { publicKey, verificationKeys } = recomputeComplete(meetingId, state.dkg);
    if (publicKey !== state.public_key) throw new E2EError("key_mismatch", "the shown key is not the round's", "public_key");
    return { publicKey, shares: verificationKeys };
  }
  /** @type {Record<string, string>} */
  const shares = {};
  for (const t of state.trustees) {
    if (!t.key) return null;
    verifyTrusteeKey(meetingId, t.key);
    if (t.key.trustee_id !== t.trustee_id) throw new E2EError("key_mismatch", "a key share is listed under another trustee", "trustees");
    shares[t.trustee_id] = t.key.public_share;
  }
  const local = await loadShare(mid, myId);
  if (!local || shares[myId] !== local.public_share) throw new E2EError("own_step_altered", "the server shows another share for this trustee", "key");
  if (jointKey(Object.values(shares)) !== state.public_key) {
    throw new E2EError("key_mismatch", "the shown key is not the sum of the trustees' shares", "public_key");
  }
  return { publicKey: state.public_key, shares };
}

const pins = keyValueStore("meetingd-pinned-keys", "keys");

/**
 * @typedef {object} KeyCheck what a voter's device found about the poll key
 * @property {"ok" | "missing" | "bad"} state bad: a statement that does not check, or none
 *   matches this poll's key while another does — never encrypt then
 * @property {string[]} vouched officer-trustees whose statement checks
 * @property {string[]} missing officer-trustees with no statement of this key
 * @property {string[]} bad officer-trustees whose statement does not check
 * @property {string[]} changed officer-trustees whose signing key is not the one this device pinned
 * @property {Record<string, string>} fingerprints trustee id → the key's fingerprint (first 8 hex digits)
 * @property {Record<string, string>} roles trustee id → "chair" | "secretary"
 */

/**
 * Check the key a secret poll encrypts under against the officer-trustees' signed
 * statements: each must be the signature, under the verifier key named for that member,
 * of a statement of the meeting this page joined and of exactly this key. Each officer's
 * key is pinned on this device the first time it is seen; a different one later is
 * reported (`changed`). `bad` (never encrypt): a statement that does not check; no chair
 * or no secretary among the trustees; a context of another meeting; or no statement from
 * an officer whose key this device has pinned before (that officer has a cosigning key).
 * `missing` (a warning): an officer this device never saw vouch has not vouched.
 * @param {{meeting_id: string, public_key: string}} context
 * @param {TrusteeState} state
 * @param {string} meetingId the meeting this page joined
 * @returns {Promise<KeyCheck>}
 */
export async function checkPollKey(context, state, meetingId) {
  const { verifyStatement } = await import("./officer-key.js");
  const officers = state.trustees.filter((t) => t.role === "chair" || t.role === "secretary").map((t) => t.trustee_id);
  const roles = Object.fromEntries(state.trustees.map((t) => [t.trustee_id, t.role]));
  /** @type {KeyCheck} */
  const out = { state: "ok", vouched: [], missing: [], bad: [], changed: [], fingerprints: {}, roles };
  const bothRoles = state.trustees.some((t) => t.role === "chair") && state.trustees.some((t) => t.role === "secretary");
  if (!bothRoles || context.meeting_id !== meetingId) {
    out.state = "bad";
    out.bad = officers.length ? officers : ["chair"];
    return out;
  }
  for (const id of officers) {
    const pinned = await pins.get(id);
    const mine = (state.statements ?? []).filter((x) => x.trustee_id === id);
    if (!mine.length) {
      (pinned ? out.bad : out.missing).push(id);
      continue;
    }
    let good = false;
    for (const st of mine) {
      const lines = st.statement.split("\n");
      const checked = verifyStatement(st.verifier_key, st.statement, st.signature);
      if (!checked.valid || !checked.name.endsWith(`/member/${id}`) || lines[0] !== STATEMENT_HEADER
        || lines[1] !== `meeting ${meetingId}` || lines[2] !== `public_key ${context.public_key}`) continue;
      good = true;
      const fp = await checked.fingerprint;
      out.fingerprints[id] = fp.slice(0, 16).replace(/(.{4})(?=.)/g, "$1 "); // 64 bits, to read out in the room
      if (!pinned) await pins.put(id, { fingerprint: fp, first_seen: new Date().toISOString() });
      else if (pinned.fingerprint !== fp) out.changed.push(id);
    }
    (good ? out.vouched : out.bad).push(id);
  }
  out.state = out.bad.length ? "bad" : out.missing.length || !out.vouched.length ? "missing" : "ok";
  return out;
}
