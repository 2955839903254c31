// @ts-check
/**
 * The meetingd wire protocol (docs/protocol.md) as seen from the browser:
 * HTTP calls and the Socket.IO `/meeting` namespace. No DOM here.
 * @module protocol
 */

/** @typedef {"chair" | "secretary" | "member" | "observer" | "operator"} Role */
/** @typedef {"scheduled" | "open" | "closed"} MeetingState */
/** @typedef {"main_room" | "sub_site" | "remote"} AttendanceMode */
/** @typedef {{id: number, name: string}} Site */
/** @typedef {{id: number | string, name: string}} CellRef */
/**
 * @typedef {object} Me
 * @property {string} member_id
 * @property {string} full_name
 * @property {CellRef | null} cell
 * @property {boolean} is_admin
 * @property {"en" | "vi"} language
 */
/**
 * @typedef {object} MeetingSummary
 * @property {number} id
 * @property {string} title
 * @property {CellRef} cell
 * @property {string} place
 * @property {string} starts_at
 * @property {MeetingState} state
 * @property {Role | null} my_role
 */
/**
 * @typedef {MeetingSummary & {
 *   agenda: {position: number, title: string}[],
 *   sites: Site[],
 *   participants: {member_id: string, full_name: string, role: Role, site_id: number | null}[],
 *   opened_at: string | null,
 *   closed_at: string | null,
 * }} Meeting
 */
/**
 * @typedef {object} Participant
 * @property {string} member_id
 * @property {string} full_name
 * @property {Role} role
 * @property {AttendanceMode} attendance
 * @property {Site | null} site
 * @property {"online" | "reconnecting" | "left"} state
 * @property {string} joined_at
 */
/** @typedef {{id: number | string, member_id: string, full_name: string, text: string, at: string}} ChatMessage */
/**
 * @typedef {object} Member
 * @property {string} member_id
 * @property {string} full_name
 * @property {number | string} cell_id
 * @property {string | null} contact
 * @property {"active" | "suspended" | "left"} status
 * @property {boolean} is_admin
 * @property {boolean} has_password
 */
/** @typedef {{id: number | string, name: string, parent_id: number | string | null}} Cell */
/** @typedef {{attendance: AttendanceMode, site_id?: number}} Attendance */
/** @typedef {{meeting: Meeting, roster: Participant[], chat: ChatMessage[], me: Participant}} JoinResult */
/**
 * A paired main-room display (not a person).
 * @typedef {object} Display
 * @property {number} id
 * @property {number} meeting_id
 * @property {"waiting" | "paired" | "revoked"} state
 * @property {string} created_at
 * @property {string | null} paired_at
 * @property {string} code_expires_at
 * @property {string} [code] only in the answer that creates it
 * @property {string} [pair_url] the page that pairs the device opening it (with the code)
 * @property {string} [qr] that page as a QR code (an SVG data: URI), with the code
 */

/**
 * An error answer from the server (the one error shape of docs/protocol.md), or a
 * client-side failure: `network` (no answer), `timeout` (no ack), `internal`.
 */
export class ApiError extends Error {
  /**
   * @param {string} code
   * @param {string} message
   * @param {number} [status]
   * @param {Record<string, any>} [details]
   */
  constructor(code, message, status = 0, details = {}) {
    super(message);
    this.name = "ApiError";
    this.code = code;
    this.status = status;
    this.details = details;
  }

  /** Seconds to wait before retrying, for `rate_limited`. */
  get retryAfter() {
    const value = Number(this.details.retry_after);
    return Number.isFinite(value) && value > 0 ? value : null;
  }
}

/** @param {number} status */
function codeForStatus(status) {
  return (
    {
      400: "invalid_input",
      401: "not_authenticated",
      403: "not_authorised",
      404: "not_found",
      409: "invalid_state",
      413: "payload_too_large",
      429: "rate_limited",
    }[status] ?? "internal"
  );
}

/**
 * @param {unknown} body
 * @param {number} status
 * @returns {ApiError}
 */
function toApiError(body, status) {
  if (body && typeof body === "object" && "error" in body) {
    const b = /** @type {{error: string, message?: string, details?: Record<string, any>}} */ (body);
    return new ApiError(String(b.error), String(b.message ?? b.error), status, b.details ?? {});
  }
  return new ApiError(codeForStatus(status), `HTTP ${status}`, status);
}

/**
 * Step-up (docs/protocol.md, "Security"): when the server answers `step_up_required`
 * or `second_factor_required`, the handler set by the UI (security.js) asks the person
 * for a code in place; when it resolves true the same request or event is sent again,
 * so the action that needed it is not lost.
 * @typedef {(err: ApiError) => Promise<boolean>} StepUpHandler
 */
/** @type {StepUpHandler | null} */
let stepUpHandler = null;
const STEP_UP_CODES = new Set(["step_up_required", "second_factor_required"]);

/** @param {StepUpHandler | null} handler */
export function setStepUpHandler(handler) {
  stepUpHandler = handler;
}

/**
 * Run `attempt`; while it fails for want of a step-up the handler provides, retry it.
 * @template T
 * @param {() => Promise<T>} attempt
 * @returns {Promise<T>}
 */
async function withStepUp(attempt) {
  for (let tries = 0; ; tries += 1) {
    try {
      return await attempt();
    } catch (err) {
      if (!(err instanceof ApiError) || !STEP_UP_CODES.has(err.code) || !stepUpHandler || tries >= 3) throw err;
      if (!(await stepUpHandler(err))) throw err;
    }
  }
}

/**
 * Send one JSON request to the same origin with the session cookie.
 * @param {"GET" | "POST" | "PUT" | "PATCH" | "DELETE"} method
 * @param {string} path
 * @param {object} [body] state-changing requests always send a JSON object
 * @returns {Promise<any>} the success body
 */
export async function request(method, path, body) {
  return withStepUp(() => requestOnce(method, path, body));
}

/**
 * @param {"GET" | "POST" | "PUT" | "PATCH" | "DELETE"} method
 * @param {string} path
 * @param {object} [body]
 * @returns {Promise<any>}
 */
async function requestOnce(method, path, body) {
  /** @type {RequestInit} */
  const init = { method, credentials: "same-origin", headers: { Accept: "application/json" } };
  if (method !== "GET") {
    init.headers = { ...init.headers, "Content-Type": "application/json" };
    init.body = JSON.stringify(body ?? {});
  }
  let res;
  try {
    res = await fetch(path, init);
  } catch (err) {
    throw new ApiError("network", String(err));
  }
  let data = null;
  try {
    data = await res.json();
  } catch {
    // not JSON (a proxy error page): keep the status
  }
  if (!res.ok || !data || data.ok !== true) throw toApiError(data, res.status || 500);
  return data;
}

const enc = encodeURIComponent;

/** The HTTP endpoints, one function each. */
export const api = {
  /**
   * The password step: the member, or (with a second factor) a challenge for {@link api.loginCode}.
   * @returns {Promise<{member?: Me, second_factor?: {challenge: string, methods: string[]}}>}
   */
  async login(/** @type {string} */ memberId, /** @type {string} */ password) {
    return request("POST", "/api/login", { member_id: memberId, password });
  },
  /** @returns {Promise<Me>} */
  async loginCode(/** @type {string} */ challenge, /** @type {string} */ code) {
    return (await request("POST", "/api/login/code", { challenge, code })).member;
  },
  async logout() {
    await request("POST", "/api/logout");
  },
  /** @returns {Promise<Me>} */
  async me() {
    return (await request("GET", "/api/me")).member;
  },
  /** @returns {Promise<Me>} */
  async setLanguage(/** @type {"en" | "vi"} */ language) {
    return (await request("PUT", "/api/me/language", { language })).member;
  },
  /** @returns {Promise<{member_id: string, full_name: string, expires_at: string}>} */
  async invitation(/** @type {string} */ token) {
    return request("GET", `/api/invitations/${enc(token)}`);
  },
  /** @returns {Promise<Me>} */
  async acceptInvitation(/** @type {string} */ token, /** @type {string} */ password) {
    return (await request("POST", "/api/invitations/accept", { token, password })).member;
  },
  /** @returns {Promise<string>} a single-use token for the Socket.IO connect */
  async socketToken() {
    return (await request("POST", "/api/socket-token")).token;
  },
  /** Officers: a one-time pairing code for a main-room display. @returns {Promise<Display>} */
  async createDisplay(/** @type {number} */ meetingId) {
    return (await request("POST", `/api/meetings/${meetingId}/displays`, {})).display;
  },
  /** @returns {Promise<Display[]>} */
  async displays(/** @type {number} */ meetingId) {
    return (await request("GET", `/api/meetings/${meetingId}/displays`)).displays;
  },
  /** @returns {Promise<Display>} */
  async revokeDisplay(/** @type {number} */ meetingId, /** @type {number} */ displayId) {
    return (await request("DELETE", `/api/meetings/${meetingId}/displays/${displayId}`)).display;
  },
  /** The projector: redeem a code for this screen's display session. @returns {Promise<Display>} */
  async pairDisplay(/** @type {string} */ code) {
    return (await request("POST", "/api/displays/pair", { code })).display;
  },
  /** @returns {Promise<Display>} */
  async displayMe() {
    return (await request("GET", "/api/displays/me")).display;
  },
  async displaySocketToken() {
    return (await request("POST", "/api/displays/socket-token")).token;
  },
  /** @returns {Promise<MeetingSummary[]>} */
  async meetings() {
    return (await request("GET", "/api/meetings")).meetings;
  },
  /** @returns {Promise<Meeting>} */
  async meeting(/** @type {number} */ id) {
    return (await request("GET", `/api/meetings/${id}`)).meeting;
  },
  /** @returns {Promise<Meeting>} */
  async openMeeting(/** @type {number} */ id) {
    return (await request("POST", `/api/meetings/${id}/open`)).meeting;
  },
  /** @returns {Promise<Meeting>} */
  async closeMeeting(/** @type {number} */ id) {
    return (await request("POST", `/api/meetings/${id}/close`)).meeting;
  },
  /** @returns {Promise<{members: Member[], cells: Cell[]}>} */
  async adminMembers() {
    const data = await request("GET", "/api/admin/members");
    return { members: data.members, cells: data.cells };
  },
  /** @returns {Promise<Member>} */
  async addMember(/** @type {Partial<Member>} */ member) {
    return (await request("POST", "/api/admin/members", member)).member;
  },
  /** @returns {Promise<Member>} */
  async updateMember(/** @type {string} */ memberId, /** @type {Partial<Member>} */ changes) {
    return (await request("PATCH", `/api/admin/members/${enc(memberId)}`, changes)).member;
  },
  /** @returns {Promise<{url: string, expires_at: string}>} */
  async resetAccess(/** @type {string} */ memberId) {
    return request("POST", `/api/admin/members/${enc(memberId)}/invitation`);
  },
};

/**
 * Connection states shown to the user:
 * `connecting` (first attempt), `connected` (joined), `reconnecting` (lost, retrying),
 * `disconnected` (given up or left; `error` says why).
 * @typedef {"connecting" | "connected" | "reconnecting" | "disconnected"} LinkState
 */
/** @typedef {{state: LinkState, attempt: number, error: ApiError | null}} LinkStatus */

const ACK_TIMEOUT_MS = 10000;
const FATAL_JOIN_ERRORS = new Set(["not_found", "not_authorised", "invalid_state", "invalid_input", "not_joined"]);

/**
 * A named moment on the page's timeline (bench/join_bench.py reads them); costs nothing.
 * @param {string} name
 */
export function mark(name) {
  try {
    performance.mark(name);
  } catch {
    // no User Timing: nothing to record
  }
}

/**
 * One participant's live link to one meeting: connects with a fresh token on every
 * (re)connection, joins with the chosen attendance and re-joins after a reconnect so
 * the participant resumes.
 *
 * Events (CustomEvent `detail`): `status` {@link LinkStatus}, `joined` {@link JoinResult},
 * `participant` {kind: "joined"|"updated"|"left", participant}, `chat` ChatMessage,
 * `meeting_state` MeetingSummary, `shutting_down` {message}.
 */
export class MeetingLink extends EventTarget {
  /**
   * @param {number} meetingId
   * @param {Attendance} attendance
   * @param {{display?: boolean, keepAttendance?: boolean}} [options] display: a paired
   *   display (no seat, read-only); keepAttendance: join the way this member already
   *   attends on another device (a second device), or fail with `not_joined`
   */
  constructor(meetingId, attendance, options = {}) {
    super();
    this.meetingId = meetingId;
    this.attendance = attendance;
    this.display = Boolean(options.display);
    this.keepAttendance = Boolean(options.keepAttendance);
    /** @type {LinkStatus} */
    this.status = { state: "connecting", attempt: 0, error: null };
    this.everJoined = false;
    this.closed = false;
    /** @type {ReturnType<typeof setTimeout> | undefined} */
    this.retryTimer = undefined;
    /** @type {ReturnType<typeof setTimeout> | undefined} */
    this.resyncTimer = undefined;
    /** true while a `joined` fires for a resync of the same connection (not a reconnect) */
    this.resynced = false;
    this.retryDelay = 1000;
    this.socket = this.createSocket();
  }

  createSocket() {
    const io = /** @type {any} */ (window).io;
    if (typeof io !== "function") throw new Error("socket.io client not loaded (/vendor/socket.io.min.js)");
    const socket = io("/meeting", {
      // Called before every connection attempt: tokens are single-use and short-lived.
      auth: (/** @type {(data: object) => void} */ cb) => {
        mark("link:token");
        (this.display ? api.displaySocketToken() : api.socketToken()).then(
          (token) => cb(this.display ? { display_token: token } : { token }),
          (err) => {
            this.lastTokenError = err;
            cb({ token: "" });
          },
        );
      },
      reconnectionDelay: 1000,
      reconnectionDelayMax: 10000,
      timeout: 15000,
      // WebSocket at once: it saves the long-polling handshake and upgrade (round trips a
      // 300 ms satellite link makes expensive), and with several meetingd nodes behind a
      // proxy long-polling would need sticky sessions (docs/deploy.md).
      transports: ["websocket"],
    });
    socket.on("connect", () => this.onConnect());
    socket.on("disconnect", (/** @type {string} */ reason) => this.onDisconnect(reason));
    socket.on("connect_error", (/** @type {any} */ err) => this.onConnectError(err));
    socket.io.on("reconnect_attempt", (/** @type {number} */ n) => {
      if (this.status.state !== "connected") this.setStatus(this.everJoined ? "reconnecting" : "connecting", n);
    });
    // roster changes come merged, a few times a second: one message per room, not per change
    socket.on("roster_changed", (/** @type {any} */ d) => {
      for (const change of d.changes) this.fire("participant", { kind: change.kind, participant: change.participant });
    });
    // the server lost broadcasts (its Redis was unreachable): read the state again by
    // re-joining, after a short random wait so every client does not ask at once
    socket.on("resync", () => {
      if (this.resyncTimer !== undefined) return;
      this.resyncTimer = setTimeout(async () => {
        this.resyncTimer = undefined;
        if (this.closed || this.status.state !== "connected") return;
        // the same connection re-joins: media (its own peer connections) is not restarted
        this.resynced = true;
        try {
          await this.onConnect();
        } finally {
          this.resynced = false;
        }
      }, Math.random() * 2000);
    });
    socket.on("chat_posted", (/** @type {any} */ d) => this.fire("chat", d.message));
    socket.on("meeting_state_changed", (/** @type {any} */ d) => this.fire("meeting_state", d.meeting));
    socket.on("server_shutting_down", (/** @type {any} */ d) => this.fire("shutting_down", d));
    socket.on("display_revoked", () => {
      // a paired display the chair revoked: stop, and say so (no reconnecting)
      this.close();
      this.setStatus("disconnected", 0, new ApiError("not_authenticated", "this display was revoked", 401));
    });
    socket.on("security_alert", (/** @type {any} */ d) => this.fire("security_alert", d.alert));
    return socket;
  }

  /**
   * @param {string} type
   * @param {unknown} detail
   */
  fire(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }

  /**
   * @param {LinkState} state
   * @param {number} [attempt]
   * @param {ApiError | null} [error]
   */
  setStatus(state, attempt = 0, error = null) {
    this.status = { state, attempt, error };
    this.fire("status", this.status);
  }

  async onConnect() {
    clearTimeout(this.retryTimer);
    mark("link:connected");
    try {
      const ack = this.display
        ? await this.emit("join_display", { meeting_id: this.meetingId })
        : await this.emit("join", { meeting_id: this.meetingId, ...this.attendance, ...(this.keepAttendance ? { keep_attendance: true } : {}) });
      if (this.keepAttendance && !this.display) {
        // from now on (reconnects), join as we actually attend
        this.keepAttendance = false;
        const me = /** @type {JoinResult} */ (ack).me;
        /** @type {Attendance} */
        const mine = me.attendance === "sub_site" && me.site ? { attendance: "sub_site", site_id: me.site.id } : { attendance: me.attendance };
        this.attendance = mine;
      }
      this.everJoined = true;
      this.retryDelay = 1000;
      this.setStatus("connected");
      mark("link:joined");
      this.fire("joined", /** @type {JoinResult} */ (ack));
    } catch (err) {
      const error = err instanceof ApiError ? err : new ApiError("internal", String(err));
      if (FATAL_JOIN_ERRORS.has(error.code)) {
        this.close();
        this.setStatus("disconnected", 0, error);
      } else {
        // timeout, rate limit, server hiccup: drop the connection and try again
        this.socket.disconnect();
        this.scheduleRetry(error.retryAfter ? error.retryAfter * 1000 : undefined, error);
      }
    }
  }

  /** @param {string} reason */
  onDisconnect(reason) {
    if (this.closed) return;
    if (reason === "io client disconnect") return; // our own retry is already scheduled
    if (reason === "io server disconnect") {
      // The server dropped us on purpose (shutdown, flood): socket.io will not retry.
      this.scheduleRetry();
    } else {
      this.setStatus(this.everJoined ? "reconnecting" : "connecting");
    }
  }

  /** @param {any} err */
  async onConnectError(err) {
    if (this.closed) return;
    if (this.socket.active) {
      // transport-level failure: socket.io retries by itself
      this.setStatus(this.everJoined ? "reconnecting" : "connecting", this.status.attempt);
      return;
    }
    // Refused by the server (bad/expired token, Origin). Is the session still valid?
    const refusal = toApiError(err && err.data, 401);
    try {
      await (this.display ? api.displayMe() : api.me());
    } catch (meErr) {
      if (meErr instanceof ApiError && meErr.code === "not_authenticated") {
        this.close();
        this.setStatus("disconnected", 0, meErr);
        return;
      }
    }
    if (refusal.code === "not_authorised") {
      this.close();
      this.setStatus("disconnected", 0, refusal);
      return;
    }
    this.scheduleRetry(undefined, refusal);
  }

  /**
   * @param {number} [delayMs]
   * @param {ApiError | null} [error]
   */
  scheduleRetry(delayMs, error = null) {
    if (this.closed) return;
    clearTimeout(this.retryTimer);
    const delay = delayMs ?? this.retryDelay;
    this.retryDelay = Math.min(this.retryDelay * 2, 10000);
    this.setStatus(this.everJoined ? "reconnecting" : "connecting", this.status.attempt + 1, error);
    this.retryTimer = setTimeout(() => {
      if (!this.closed && !this.socket.connected) this.socket.connect();
    }, delay);
  }

  /**
   * Emit a client→server event and wait for its ack.
   * @param {string} event
   * @param {object} payload
   * @returns {Promise<any>} the success ack
   */
  async emit(event, payload) {
    return withStepUp(() => this.emitOnce(event, payload));
  }

  /**
   * @param {string} event
   * @param {object} payload
   * @returns {Promise<any>}
   */
  async emitOnce(event, payload) {
    let ack;
    try {
      ack = await this.socket.timeout(ACK_TIMEOUT_MS).emitWithAck(event, payload);
    } catch {
      throw new ApiError("timeout", `no answer to ${event}`);
    }
    if (!ack || ack.ok !== true) throw toApiError(ack, 0);
    return ack;
  }

  /**
   * Change how this participant attends (joins again with the new attendance).
   * @param {Attendance} attendance
   * @returns {Promise<JoinResult>}
   */
  async changeAttendance(attendance) {
    const ack = await this.emit("join", { meeting_id: this.meetingId, ...attendance });
    this.attendance = attendance;
    this.fire("joined", ack);
    return ack;
  }

  /**
   * @param {string} text
   * @returns {Promise<ChatMessage>}
   */
  async sendChat(text) {
    if (this.status.state !== "connected") throw new ApiError("network", "not connected");
    return (await this.emit("send_chat", { text })).message;
  }

  /** Leave the meeting (the participant becomes `left`) and disconnect. */
  async leave() {
    if (this.socket.connected && this.status.state === "connected") {
      try {
        await this.emit("leave", {});
      } catch {
        // leaving anyway
      }
    }
    this.close();
    this.setStatus("disconnected");
  }

  /** Disconnect without leaving (the server marks us `reconnecting`, then `left`). */
  close() {
    this.closed = true;
    clearTimeout(this.retryTimer);
    this.socket.disconnect();
  }
}
