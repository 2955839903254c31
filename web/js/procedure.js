// @ts-check
/**
 * The meeting procedure and votes as seen from the browser (docs/protocol.md,
 * "Meeting procedure and votes" and "Minutes"): a live model of the register, quorum,
 * agenda, speakers and polls kept up to date from the `/meeting` namespace, the
 * procedure events as methods, ballots that are retried until acknowledged, and the
 * minutes/keys HTTP calls. No DOM here.
 * @module procedure
 */
import { ApiError, request } from "./protocol.js";

/** @typedef {import("./protocol.js").MeetingLink} MeetingLink */
/** @typedef {{id: number, name: string}} Site */
/**
 * @typedef {object} RegisterEntry
 * @property {string} member_id
 * @property {string} full_name
 * @property {import("./protocol.js").Role} role
 * @property {boolean} voting
 * @property {boolean} present
 * @property {boolean} online
 * @property {"main_room" | "sub_site" | "remote" | null} attendance
 * @property {Site | null} site
 * @property {{attendance: string, site: Site | null, by: string, at: string} | null} checked_in
 * @property {{reason: string, by: string, at: string} | null} excused
 */
/** @typedef {{present: number, entitled: number, excused: number}} AttendanceCounts */
/**
 * @typedef {object} Quorum
 * @property {boolean} quorate
 * @property {number} present
 * @property {number} entitled
 * @property {number} required
 * @property {Record<string, any>} rule the quorum rule (structured: numerator/denominator/comparison, or members)
 * @property {boolean} locked
 */
/** @typedef {{position: number, title: string}} AgendaItem */
/** @typedef {{id: number, position: number, text: string, proposer: string, added_by: string, at: string}} Motion */
/**
 * @typedef {object} SpeakerEntry
 * @property {string} entry_id
 * @property {"member" | "site"} kind
 * @property {string | null} member_id
 * @property {Site | null} site
 * @property {string} name
 * @property {string} raised_by
 * @property {string} raised_at
 * @property {string} [since]
 * @property {number | null} [limit_s] the running speech's speaking-time limit
 */
/** @typedef {{current: SpeakerEntry | null, queue: SpeakerEntry[], limit_s?: number | null}} Speakers */
/**
 * @typedef {object} PollConfig
 * @property {string} question
 * @property {"motion" | "election"} type
 * @property {string[]} options
 * @property {number} max_choices
 * @property {"open" | "secret"} kind
 * @property {{description?: string, name?: string} & Record<string, any>} rule
 * @property {boolean} abstentions_in_base
 * @property {number | null} time_limit_s
 * @property {boolean} allow_change
 */
/**
 * @typedef {object} Tally
 * @property {string} type
 * @property {string[]} options
 * @property {number[]} counts
 * @property {number} valid
 * @property {number} abstentions
 * @property {number} voters
 * @property {{counts: number[], ballots: number, blank: number}} electronic
 * @property {{counts: number[], ballots: number, blank: number}} hand
 */
/** @typedef {{receipt: string, choices: number[], voter_id?: string}} Receipt */
/**
 * @typedef {object} PollResult
 * @property {number} poll_id
 * @property {Tally} tally
 * @property {Record<string, any>} outcome
 * @property {Receipt[]} receipts
 * @property {{entitled: number, present: number}} counts
 */
/**
 * @typedef {object} HandCount
 * @property {number} poll_id
 * @property {string | null} site
 * @property {string} entered_by
 * @property {number[]} counts
 * @property {number} hands
 * @property {number} hand_eligible
 * @property {string} at
 * @property {boolean} corrects_previous
 */
/**
 * @typedef {object} Poll
 * @property {number} poll_id
 * @property {number | null} motion_id
 * @property {"draft" | "open" | "closed"} state
 * @property {PollConfig} config
 * @property {string | null} opened_at
 * @property {string | null} closed_at
 * @property {string | null} expires_at
 * @property {boolean | null} quorate
 * @property {boolean} quorum_override
 * @property {"manual" | "time_limit" | null} close_reason
 * @property {number} voted
 * @property {number} eligible
 * @property {Tally | null} tally
 * @property {HandCount[]} hand_counts
 * @property {PollResult | null} result
 * @property {import("./e2e-client.js").E2EPoll | null} [e2e] secret polls, from open
 */
/** @typedef {{has_voted: boolean, receipt?: string, choices?: number[]}} MyVote */
/**
 * @typedef {object} ProcedureState
 * @property {AttendanceCounts & {members: RegisterEntry[]}} attendance
 * @property {Quorum} quorum
 * @property {{items: AgendaItem[], current: number | null, motions: Motion[]}} agenda
 * @property {Speakers} speakers
 * @property {Poll[]} polls
 * @property {Record<string, MyVote>} my_votes
 */
/**
 * What this device remembers of its own ballot in a poll (localStorage): the ballot id
 * to retry with, the choices, and — once acknowledged — the receipt. For a secret poll
 * this is the only place the receipt is kept.
 * @typedef {object} StoredBallot
 * @property {string} ballot_id
 * @property {number[]} choices
 * @property {string | null} receipt
 * @property {string | null} replaces
 * @property {"pending" | "acked"} state
 * @property {unknown} [encrypted] a secret poll: the encrypted ballot (no choice is kept)
 * @property {string | null} [signed_receipt] the server's signed statement (a signed note)
 *   that the ballot is in the minutes log; `meetingd verify --receipt` checks it
 */

/** Errors after which sending the same ballot again may succeed. */
const RETRYABLE = new Set(["timeout", "network", "rate_limited", "internal"]);

/** @returns {string} a random ballot id (16–64 of `A-Za-z0-9_-`) */
export function newBallotId() {
  if (globalThis.crypto && typeof crypto.randomUUID === "function") return crypto.randomUUID();
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  return [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * @param {number[]} a
 * @param {number[]} b
 */
export function sameChoices(a, b) {
  const x = [...a].sort((p, q) => p - q);
  const y = [...b].sort((p, q) => p - q);
  return x.length === y.length && x.every((v, i) => v === y[i]);
}

/**
 * The live procedure of one meeting over one {@link MeetingLink}.
 *
 * Fires `change` (CustomEvent, `detail.what` = "attendance" | "quorum" | "agenda" |
 * "speakers" | "polls" | "all" and, for polls, `detail.poll_id`), `poll_opened`
 * (detail: Poll) when a poll opens, and `result` (detail: Poll) when its result is
 * published.
 */
export class Procedure extends EventTarget {
  /**
   * @param {MeetingLink} link
   * @param {string} myId the signed-in member (keys the ballots kept on this device)
   */
  constructor(link, myId) {
    super();
    this.link = link;
    this.myId = myId;
    this.meetingId = link.meetingId;
    /** @type {ProcedureState | null} */
    this.state = null;
    /** @type {Map<number, Promise<any>>} ballots being sent, per poll */
    this.sending = new Map();
    /** @type {Map<number, Map<string, boolean>>} closed secret polls' boards: tracker → superseded */
    this.boards = new Map();
    /** @type {Set<number>} */
    this.boardsLoading = new Set();
    this.closed = false;
    /** @type {[string, (d: any) => void][]} */
    this.handlers = [
      ["attendance_changed", (d) => this.onAttendance(d)],
      ["quorum_changed", (d) => this.patch("quorum", (s) => { s.quorum = d.quorum; })],
      ["agenda_item_started", (d) => this.patch("agenda", (s) => { s.agenda.current = d.item.position; })],
      ["motion_added", (d) => this.patch("agenda", (s) => {
        if (!s.agenda.motions.some((m) => m.id === d.motion.id)) s.agenda.motions.push(d.motion);
      })],
      ["speakers_changed", (d) => this.patch("speakers", (s) => { s.speakers = d.speakers; })],
      ["poll_created", (d) => this.upsertPoll(d.poll)],
      ["poll_opened", (d) => {
        this.upsertPoll(d.poll);
        this.fire("poll_opened", this.poll(d.poll.poll_id));
      }],
      ["poll_closed", (d) => this.upsertPoll(d.poll)],
      ["poll_quorum_changed", (d) => this.patchPoll(d.poll_id, (p) => { p.quorate = d.quorate; })],
      ["tally_updated", (d) => this.patchPoll(d.poll_id, (p) => {
        p.voted = d.voted;
        if (typeof d.eligible === "number") p.eligible = d.eligible;
        if (d.tally) p.tally = d.tally;
        if (d.state && p.state !== "closed") p.state = d.state;
      })],
      ["hand_count_recorded", (d) => this.patchPoll(d.hand_count.poll_id, (p) => {
        p.hand_counts = [...p.hand_counts.filter((x) => x.site !== d.hand_count.site), d.hand_count];
      })],
      ["e2e_board_published", (d) => {
        this.patchPoll(d.poll_id, (p) => {
          if (p.e2e) p.e2e = { ...p.e2e, waiting_for: d.waiting_for, counted: d.counted };
        });
        this.fire("board_published", d);
      }],
      ["e2e_decryption_received", (d) => this.patchPoll(d.poll_id, (p) => {
        if (p.e2e) p.e2e = { ...p.e2e, waiting_for: d.waiting_for, decrypted_by: [...p.e2e.decrypted_by, d.trustee_id] };
      })],
      ["trustee_key_posted", (d) => this.fire("trustee_key_posted", d)],
      ["key_statement_posted", (d) => this.fire("key_statement_posted", d)],
      ["e2e_dkg_progress", (d) => this.fire("e2e_dkg_progress", d)],
      ["poll_result", (d) => {
        this.patchPoll(d.poll_id, (p) => {
          p.state = "closed";
          p.result = d;
          p.tally = d.tally;
        });
        const poll = this.poll(d.poll_id);
        if (poll) this.fire("result", poll);
      }],
    ];
    for (const [event, fn] of this.handlers) link.socket.on(event, fn);
    this.onJoined = (/** @type {Event} */ e) => {
      const ack = /** @type {CustomEvent<any>} */ (e).detail;
      if (ack && ack.procedure) this.load(ack.procedure);
      this.resumePending();
    };
    link.addEventListener("joined", this.onJoined);
  }

  /** Stop listening (the link itself belongs to the caller). */
  destroy() {
    this.closed = true;
    for (const [event, fn] of this.handlers) this.link.socket.off(event, fn);
    this.link.removeEventListener("joined", this.onJoined);
  }

  /**
   * @param {string} type
   * @param {unknown} detail
   */
  fire(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }

  /** @param {ProcedureState} snapshot */
  load(snapshot) {
    this.state = snapshot;
    this.fire("change", { what: "all" });
  }

  /** Ask the server for the whole procedure again. */
  async refresh() {
    const ack = await this.link.emit("get_procedure", {});
    this.load(ack.procedure);
  }

  /**
   * @param {string} what
   * @param {(s: ProcedureState) => void} fn
   */
  patch(what, fn) {
    if (!this.state) return;
    fn(this.state);
    this.fire("change", { what });
  }

  /** @param {{attendance: AttendanceCounts, changed: RegisterEntry[]}} d */
  onAttendance(d) {
    this.patch("attendance", (s) => {
      const members = s.attendance.members;
      for (const entry of d.changed || []) {
        const i = members.findIndex((m) => m.member_id === entry.member_id);
        if (i >= 0) members[i] = entry;
        else members.push(entry);
      }
      s.attendance = { ...s.attendance, ...d.attendance, members };
    });
  }

  /** @param {Poll} poll */
  upsertPoll(poll) {
    this.patch("polls", (s) => {
      const i = s.polls.findIndex((p) => p.poll_id === poll.poll_id);
      if (i >= 0) {
        // a late `poll_opened` must not undo a result we already have
        const old = s.polls[i];
        s.polls[i] = { ...poll, result: poll.result ?? old.result };
      } else {
        s.polls.push(poll);
      }
    });
  }

  /**
   * @param {number} pollId
   * @param {(p: Poll) => void} fn
   */
  patchPoll(pollId, fn) {
    const poll = this.poll(pollId);
    if (!poll || !this.state) return;
    fn(poll);
    this.fire("change", { what: "polls", poll_id: pollId });
  }

  /** @param {number} pollId */
  poll(pollId) {
    return this.state?.polls.find((p) => p.poll_id === pollId) ?? null;
  }

  /** @returns {Poll[]} the open polls, newest first */
  openPolls() {
    return (this.state?.polls ?? []).filter((p) => p.state === "open").reverse();
  }

  /** @param {string} memberId */
  entry(memberId) {
    return this.state?.attendance.members.find((m) => m.member_id === memberId) ?? null;
  }

  currentItem() {
    const a = this.state?.agenda;
    if (!a || a.current === null || a.current === undefined) return null;
    return a.items.find((i) => i.position === a.current) ?? null;
  }

  /** @param {number | null} pollId */
  motion(pollId) {
    const poll = pollId === null ? null : this.poll(pollId);
    if (!poll || poll.motion_id === null) return null;
    return this.state?.agenda.motions.find((m) => m.id === poll.motion_id) ?? null;
  }

  // ---- requests -----------------------------------------------------------------

  /**
   * @param {string} event
   * @param {object} [payload]
   */
  call(event, payload = {}) {
    if (this.link.status.state !== "connected") return Promise.reject(new ApiError("network", "not connected"));
    return this.link.emit(event, payload);
  }

  /** @param {string} memberId */
  checkIn(memberId) { return this.call("check_in", { member_id: memberId }); }
  /** @param {string} memberId */
  checkOut(memberId) { return this.call("check_out", { member_id: memberId }); }
  /** @param {string} code */
  checkInWithCode(code) { return this.call("check_in_with_code", { code }); }
  /** @param {string} memberId @param {string} reason */
  excuse(memberId, reason) { return this.call("excuse", { member_id: memberId, reason }); }
  /** @returns {Promise<{code: string, expires_at: string}>} */
  roomCode() { return this.call("get_room_code", {}); }
  /** @param {"default" | Record<string, number | string>} rule */
  setQuorumRule(rule) { return this.call("set_quorum_rule", { rule }); }
  /** @param {number} position */
  setAgendaItem(position) { return this.call("set_agenda_item", { position }); }
  /** @param {string} text @param {string} [proposer] */
  addMotion(text, proposer) { return this.call("add_motion", proposer ? { text, proposer } : { text }); }
  raiseHand() { return this.call("raise_hand", {}); }
  /** @param {{member_id?: string, site_id?: number}} [target] */
  lowerHand(target = {}) { return this.call("lower_hand", target); }
  /** @param {{member_id?: string, site_id?: number}} target */
  giveFloor(target) { return this.call("give_floor", target); }
  endSpeech() { return this.call("end_speech", {}); }
  /** @param {number | null} limitS the chair's speaking-time limit in seconds, or none */
  setSpeakingLimit(limitS) { return this.call("set_speaking_limit", { limit_s: limitS }); }
  /** @param {string[]} order */
  reorderQueue(order) { return this.call("reorder_queue", { order }); }
  /** @param {Record<string, any>} config @param {number | null} [motionId] */
  async createPoll(config, motionId = null) {
    const ack = await this.call("create_poll", motionId === null ? { config } : { config, motion_id: motionId });
    this.upsertPoll(ack.poll);
    return /** @type {Poll} */ (ack.poll);
  }
  /** @param {number} pollId @param {boolean} [overrideQuorum] */
  async openPoll(pollId, overrideQuorum = false) {
    const ack = await this.call("open_poll", overrideQuorum ? { poll_id: pollId, override_quorum: true } : { poll_id: pollId });
    this.upsertPoll(ack.poll);
    return /** @type {Poll} */ (ack.poll);
  }
  /** @param {number} pollId */
  async closePoll(pollId) {
    const ack = await this.call("close_poll", { poll_id: pollId });
    this.upsertPoll(ack.poll);
    return /** @type {Poll} */ (ack.poll);
  }
  /** @param {number} pollId @param {number[]} counts */
  recordHandCount(pollId, counts) { return this.call("record_hand_count", { poll_id: pollId, counts }); }

  // ---- ballots --------------------------------------------------------------------

  /** @param {number} pollId */
  ballotKey(pollId) {
    return `meetingd.ballot.${this.meetingId}.${pollId}.${this.myId}`;
  }

  /**
   * @param {number} pollId
   * @returns {StoredBallot | null}
   */
  storedBallot(pollId) {
    try {
      const raw = localStorage.getItem(this.ballotKey(pollId));
      return raw ? JSON.parse(raw) : null;
    } catch {
      return null;
    }
  }

  /**
   * @param {number} pollId
   * @param {StoredBallot} ballot
   */
  storeBallot(pollId, ballot) {
    try {
      localStorage.setItem(this.ballotKey(pollId), JSON.stringify(ballot));
    } catch {
      // storage disabled: the receipt is shown once and the member is asked to note it
    }
  }

  /**
   * What this member knows of their own vote in a poll: the server's `my_votes`
   * joined with the ballot kept on this device.
   * @param {number} pollId
   * @returns {{has_voted: boolean, pending: boolean, receipt: string | null, choices: number[] | null}}
   */
  myVote(pollId) {
    const server = this.state?.my_votes?.[String(pollId)];
    const local = this.storedBallot(pollId);
    const localAcked = local && local.state === "acked" ? local : null;
    return {
      has_voted: Boolean(server?.has_voted || localAcked),
      pending: Boolean(local && local.state === "pending" && this.sending.has(pollId)),
      receipt: server?.receipt ?? localAcked?.receipt ?? null,
      choices: server?.choices ?? (localAcked && !localAcked.encrypted ? localAcked.choices : null),
    };
  }

  /**
   * Cast (or, where allowed, change) this member's ballot. The ballot id is chosen
   * once and kept on this device, so every retry — after a timeout, a reconnect or a
   * reload — sends the same ballot and can never count twice.
   * @param {number} pollId
   * @param {number[]} choices
   * @returns {Promise<{receipt: string, choices: number[], duplicate: boolean, replaced: boolean}>}
   */
  cast(pollId, choices) {
    const previous = this.storedBallot(pollId);
    /** @type {StoredBallot} */
    let ballot;
    if (previous && previous.state === "pending" && sameChoices(previous.choices, choices)) {
      ballot = previous; // the same vote again: resend it as it was
    } else {
      const replaces = previous && previous.state === "acked" ? previous.ballot_id : previous?.replaces ?? null;
      ballot = { ballot_id: newBallotId(), choices, receipt: null, replaces, state: "pending" };
    }
    this.storeBallot(pollId, ballot);
    return this.send(pollId, ballot);
  }

  /**
   * Cast a secret poll's ballot, encrypted on this device (e2e-client.prepareBallot).
   * Only the encrypted ballot and its tracker are kept here, never the choice; a retry
   * sends the same encrypted ballot, so it counts once.
   * @param {number} pollId
   * @param {{ballot: unknown, tracker: string}} prepared
   */
  castEncrypted(pollId, prepared) {
    const previous = this.storedBallot(pollId);
    const replaces = previous && previous.state === "acked" ? previous.ballot_id : previous?.replaces ?? null;
    /** @type {StoredBallot} */
    const ballot = { ballot_id: newBallotId(), choices: [], receipt: prepared.tracker, replaces, state: "pending",
      encrypted: prepared.ballot };
    this.storeBallot(pollId, ballot);
    return this.send(pollId, ballot);
  }

  /**
   * @param {number} pollId
   * @param {StoredBallot} ballot
   */
  send(pollId, ballot) {
    const attempt = this.sendUntilAcked(pollId, ballot).finally(() => {
      if (this.sending.get(pollId) === attempt) this.sending.delete(pollId);
    });
    this.sending.set(pollId, attempt);
    return attempt;
  }

  /**
   * @param {number} pollId
   * @param {StoredBallot} ballot
   */
  async sendUntilAcked(pollId, ballot) {
    /** @type {Record<string, any>} */
    const payload = ballot.encrypted
      ? { poll_id: pollId, ballot_id: ballot.ballot_id, ballot: ballot.encrypted }
      : { poll_id: pollId, ballot_id: ballot.ballot_id, choices: ballot.choices };
    if (ballot.replaces) payload.replaces = ballot.replaces;
    const event = ballot.encrypted ? "cast_encrypted_ballot" : "cast_ballot";
    let delay = 1000;
    for (;;) {
      if (this.closed) throw new ApiError("network", "left the meeting");
      await this.connected();
      try {
        const ack = await this.link.emit(event, payload);
        const receipt = ack.receipt ?? ack.tracker;
        const choices = ack.choices ?? [];
        const kept = this.storedBallot(pollId);
        // keep the first statement (a retry's has no log index)
        const signed = kept && kept.ballot_id === ballot.ballot_id && kept.signed_receipt ? kept.signed_receipt : ack.signed_receipt ?? null;
        /** @type {StoredBallot} */
        const done = { ...ballot, receipt, choices, state: "acked", signed_receipt: signed };
        this.storeBallot(pollId, done);
        if (this.state) {
          const mine = ballot.encrypted ? { has_voted: true } : { has_voted: true, receipt, choices };
          this.state.my_votes = { ...this.state.my_votes, [String(pollId)]: mine };
          this.fire("change", { what: "polls", poll_id: pollId });
        }
        return ack;
      } catch (err) {
        const e = err instanceof ApiError ? err : new ApiError("internal", String(err));
        const joinFirst = e.code === "invalid_state" && e.details?.hint === "join first";
        if (!RETRYABLE.has(e.code) && !joinFirst) {
          // a definite answer: forget the pending ballot so the member can try again
          const stored = this.storedBallot(pollId);
          if (stored && stored.ballot_id === ballot.ballot_id && stored.state === "pending") {
            try { localStorage.removeItem(this.ballotKey(pollId)); } catch { /* ignore */ }
          }
          throw e;
        }
        this.fire("retrying", { poll_id: pollId, error: e });
        await new Promise((r) => setTimeout(r, e.retryAfter ? e.retryAfter * 1000 : delay));
        delay = Math.min(delay * 2, 8000);
      }
    }
  }

  /**
   * Fetch a closed secret poll's board (tracker → superseded) for "counted as cast".
   * @param {number} pollId
   */
  loadBoard(pollId) {
    if (this.boardsLoading.has(pollId)) return;
    this.boardsLoading.add(pollId);
    this.link.emit("get_e2e", { poll_id: pollId, board: true }).then((ack) => {
      const board = new Map();
      for (const entry of ack.board ?? []) board.set(entry.tracker, entry.superseded);
      this.boards.set(pollId, board);
      this.fire("change", { what: "polls", poll_id: pollId });
    }, () => undefined).finally(() => this.boardsLoading.delete(pollId));
  }

  /** Resolves once the link is joined. */
  connected() {
    if (this.link.status.state === "connected") return Promise.resolve();
    return new Promise((resolve) => {
      const on = () => {
        if (this.link.status.state === "connected" || this.closed) {
          this.link.removeEventListener("status", on);
          resolve(undefined);
        }
      };
      this.link.addEventListener("status", on);
    });
  }

  /** After a (re)join: send again any ballot that was never acknowledged. */
  resumePending() {
    for (const poll of this.openPolls()) {
      const stored = this.storedBallot(poll.poll_id);
      if (stored && stored.state === "pending" && !this.sending.has(poll.poll_id)) {
        this.send(poll.poll_id, stored).then(
          () => undefined,
          (err) => this.fire("cast_failed", { poll_id: poll.poll_id, error: err }),
        );
      }
    }
  }

  /**
   * After close: is this member's receipt among the published ones, with the choices
   * they made? `null` when there is nothing to check (no receipt kept here).
   * @param {Poll} poll
   * @returns {"counted" | "missing" | "different" | "tracker_counted" | "tracker_missing" | null}
   */
  receiptCheck(poll) {
    const mine = this.myVote(poll.poll_id);
    if (!poll.result || !mine.receipt) return null;
    if (poll.e2e) {
      const board = this.boards.get(poll.poll_id);
      if (!board) {
        this.loadBoard(poll.poll_id);
        return null;
      }
      return board.get(mine.receipt) === false ? "tracker_counted" : "tracker_missing";
    }
    const found = poll.result.receipts.find((r) => r.receipt === mine.receipt);
    if (!found) return "missing";
    if (mine.choices && !sameChoices(found.choices, mine.choices)) return "different";
    return "counted";
  }
}

// ---- minutes and officer keys (HTTP) -------------------------------------------------

/** @typedef {{name: string, verifier_key: string, fingerprint: string, created_at: string}} OfficerKey */
/**
 * @typedef {object} MinutesView
 * @property {number} meeting_id
 * @property {"scheduled" | "open" | "closed"} state
 * @property {string} origin
 * @property {string} log_key
 * @property {string} log_key_fingerprint
 * @property {Record<string, any>[]} entries
 * @property {{size: number, root_hash: string, note: string, text: string} | null} checkpoint
 * @property {{lang: string, sha256: string, covers: number, seq: number} | null} sealed
 * @property {{role: "chair" | "secretary", member_id: string, full_name: string, key: OfficerKey | null, cosigned: boolean, cosigned_at: string | null}[]} officers
 * @property {string} html_url
 * @property {{name: string, fingerprint: string, verifier_key: string, cosigned_size: number, pending_size: number, last_error: string | null, refused: string | null}[]} [witnesses]
 */

export const minutesApi = {
  /** @returns {Promise<{key_name: string, key: OfficerKey | null, retired: OfficerKey[], reenrol: boolean}>} */
  async myKeys() {
    const data = await request("GET", "/api/me/keys");
    return { key_name: data.key_name, key: data.key, retired: data.retired ?? [], reenrol: Boolean(data.reenrol) };
  },
  /**
   * Enrol the public half of a key made on this device (or in a key file).
   * @param {string} verifierKey @param {"browser" | "file"} origin @param {boolean} replace
   * @returns {Promise<OfficerKey>}
   */
  async enrolKey(verifierKey, origin, replace) {
    return (await request("POST", "/api/me/keys", { verifier_key: verifierKey, origin, replace })).key;
  },
  /** @returns {Promise<MinutesView>} */
  async view(/** @type {number} */ meetingId) {
    return (await request("GET", `/api/meetings/${meetingId}/minutes`)).minutes;
  },
  /** @returns {Promise<MinutesView>} */
  async seal(/** @type {number} */ meetingId, /** @type {string} */ lang) {
    return (await request("POST", `/api/meetings/${meetingId}/minutes/seal`, { lang })).minutes;
  },
  /**
   * Hand the server a cosignature line made on this device (never a key or a passphrase).
   * @returns {Promise<{already: boolean, cosignature: Record<string, any>, minutes: MinutesView}>}
   */
  async cosign(/** @type {number} */ meetingId, /** @type {string} */ line) {
    return request("POST", `/api/meetings/${meetingId}/minutes/cosign`, { cosignature: line });
  },
  /** @param {number} meetingId @param {string} lang */
  htmlUrl(meetingId, lang) {
    return `/api/meetings/${meetingId}/minutes.html?lang=${encodeURIComponent(lang)}`;
  },
  /** @param {number} meetingId */
  csvUrl(meetingId) {
    return `/api/meetings/${meetingId}/participation.csv`;
  },
};
