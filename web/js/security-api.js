// @ts-check
/**
 * The security endpoints (docs/protocol.md, "Security") and the live alert feed for
 * administrators. No DOM here.
 * @module security-api
 */
import { request, api } from "./protocol.js";

/**
 * @typedef {object} SecurityStatus
 * @property {{created_at: string, last_used_at: string | null} | null} totp
 * @property {{id: number, label: string, created_at: string, last_used_at: string | null}[]} passkeys
 * @property {number} recovery_codes_left
 * @property {boolean} required
 * @property {number} step_up_minutes
 * @property {boolean} passkeys_available
 * @property {string} rp_id
 */
/**
 * @typedef {object} Session
 * @property {string} id
 * @property {string} created_at
 * @property {string} expires_at
 * @property {string | null} last_seen_at
 * @property {string | null} address
 * @property {string | null} device
 * @property {string | null} factor
 * @property {string | null} second_factor_at
 * @property {boolean} current
 */
/**
 * @typedef {object} Alert
 * @property {number} id
 * @property {string} rule
 * @property {"high" | "medium" | "low"} severity
 * @property {"new" | "acknowledged" | "resolved"} state
 * @property {string} summary
 * @property {string | null} member_id
 * @property {string | null} address
 * @property {number | null} meeting_id
 * @property {number} count
 * @property {string} first_at
 * @property {string} last_at
 * @property {Record<string, any>} details
 * @property {string | null} acknowledged_by
 * @property {string | null} acknowledged_at
 * @property {string | null} resolved_by
 * @property {string | null} resolved_at
 */
/**
 * A finding of the risk self-check: a stable id, its facts (`params`: paths, names,
 * numbers) and the server's English sentences (for logs; the page says them from the
 * catalogs, `security.finding.<id>` / `security.finding_fix.<id>`).
 * @typedef {{id: string, severity: "high" | "medium" | "low", params: Record<string, string | number>, message: string, fix: string}} Finding
 */
/** @typedef {{id: number, at: string, kind: string, member_id: string | null, address: string | null, meeting_id: number | null, details: Record<string, any>}} SecurityEvent */

const enc = encodeURIComponent;

/**
 * @simplewebauthn/browser (from the npm lockfile, served at /vendor/simplewebauthn-browser.js).
 * @returns {{startRegistration: (o: {optionsJSON: object}) => Promise<object>, startAuthentication: (o: {optionsJSON: object}) => Promise<object>}}
 */
function webauthn() {
  const lib = /** @type {any} */ (window).SimpleWebAuthnBrowser;
  if (!lib) throw new Error("@simplewebauthn/browser is not loaded (/vendor/simplewebauthn-browser.js)");
  return lib;
}

/**
 * Why passkeys cannot work on this page, or null when they can: browsers allow
 * WebAuthn only in a secure context reached by a host name (an IP address is refused).
 * @returns {"bare_ip" | "insecure" | "unsupported" | null}
 */
export function passkeysBlocked() {
  const host = location.hostname;
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(host) || host.includes(":") || host.startsWith("[")) return "bare_ip";
  if (!window.isSecureContext) return "insecure";
  if (typeof window.PublicKeyCredential !== "function") return "unsupported";
  return null;
}

export const securityApi = {
  /** @returns {Promise<SecurityStatus>} */
  async status() {
    return (await request("GET", "/api/me/security")).security;
  },
  /** @returns {Promise<{secret: string, uri: string, qr: string, valid_minutes: number}>} */
  async startTotp(/** @type {string} */ password) {
    return request("POST", "/api/me/second-factor/totp", { password });
  },
  /** @returns {Promise<string[]>} recovery codes, shown once */
  async confirmTotp(/** @type {string} */ code) {
    return (await request("POST", "/api/me/second-factor/totp/confirm", { code })).recovery_codes;
  },
  /** @returns {Promise<SecurityStatus>} */
  async removeTotp(/** @type {string} */ password) {
    return (await request("POST", "/api/me/second-factor/totp/remove", { password })).security;
  },
  /** @returns {Promise<string[]>} */
  async newRecoveryCodes() {
    return (await request("POST", "/api/me/second-factor/recovery-codes")).recovery_codes;
  },
  async stepUp(/** @type {string} */ code) {
    return request("POST", "/api/security/step-up", { code });
  },
  /** Step-up with a passkey: options, the browser's ceremony, the check. */
  async stepUpPasskey() {
    const { options } = await request("POST", "/api/security/step-up/passkey/options");
    const credential = await webauthn().startAuthentication({ optionsJSON: options });
    return request("POST", "/api/security/step-up/passkey", { credential });
  },
  /** Register a passkey on this device (after a fresh password check). */
  async addPasskey(/** @type {string} */ password, /** @type {string} */ label) {
    const { options } = await request("POST", "/api/me/passkeys/options", { password });
    const credential = await webauthn().startRegistration({ optionsJSON: options });
    return request("POST", "/api/me/passkeys", { credential, label });
  },
  /** @returns {Promise<SecurityStatus>} */
  async removePasskey(/** @type {number} */ id) {
    return (await request("POST", `/api/me/passkeys/${id}/remove`)).security;
  },
  /** The second step of signing in with a passkey. */
  async loginPasskey(/** @type {string} */ challenge) {
    const { options } = await request("POST", "/api/login/passkey/options", { challenge });
    const credential = await webauthn().startAuthentication({ optionsJSON: options });
    return (await request("POST", "/api/login/passkey", { challenge, credential })).member;
  },
  /** @returns {Promise<Session[]>} */
  async sessions() {
    return (await request("GET", "/api/me/sessions")).sessions;
  },
  async endSession(/** @type {string} */ id) {
    await request("POST", `/api/me/sessions/${enc(id)}/end`);
  },
  /** @returns {Promise<number>} */
  async endOtherSessions() {
    return (await request("POST", "/api/me/sessions/end-others")).ended;
  },
  /** @returns {Promise<Session[]>} */
  async memberSessions(/** @type {string} */ memberId) {
    return (await request("GET", `/api/admin/members/${enc(memberId)}/sessions`)).sessions;
  },
  /** @returns {Promise<number>} */
  async endMemberSessions(/** @type {string} */ memberId) {
    return (await request("POST", `/api/admin/members/${enc(memberId)}/sessions/end`)).ended;
  },
  /** @returns {Promise<Alert[]>} */
  async alerts(/** @type {"open" | "all"} */ state = "open") {
    return (await request("GET", `/api/admin/security/alerts?state=${state}`)).alerts;
  },
  /** @returns {Promise<Alert>} */
  async setAlertState(/** @type {number} */ id, /** @type {"acknowledged" | "resolved"} */ state) {
    return (await request("POST", `/api/admin/security/alerts/${id}`, { state })).alert;
  },
  /** @returns {Promise<SecurityEvent[]>} */
  async events() {
    return (await request("GET", "/api/admin/security/events")).events;
  },
  /** @returns {Promise<{checked_at: string, findings: Finding[]}>} */
  async check() {
    return request("GET", "/api/admin/security/check");
  },
};

/**
 * An administrator's socket, joined to no meeting, on which `security_alert` arrives.
 * Events (CustomEvent `detail`): `alert` {@link Alert}, `status` "live" | "offline".
 */
export class AlertFeed extends EventTarget {
  constructor() {
    super();
    const io = /** @type {any} */ (window).io;
    this.socket = io("/meeting", {
      auth: (/** @type {(data: object) => void} */ cb) => {
        api.socketToken().then((token) => cb({ token }), () => cb({ token: "" }));
      },
      reconnectionDelay: 1000,
      reconnectionDelayMax: 10000,
      // WebSocket only, as the meeting link: a same-origin long-polling request carries
      // no Origin header, and the server refuses a connect without one.
      transports: ["websocket"],
    });
    this.socket.on("connect", () => this.fire("status", "live"));
    this.socket.on("disconnect", () => this.fire("status", "offline"));
    this.socket.on("connect_error", () => this.fire("status", "offline"));
    this.socket.on("security_alert", (/** @type {any} */ d) => this.fire("alert", d.alert));
  }

  /**
   * @param {string} type
   * @param {unknown} detail
   */
  fire(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }

  close() {
    this.socket.disconnect();
  }
}
