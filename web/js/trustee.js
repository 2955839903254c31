// @ts-check
/**
 * The trustee panel of the chair and the secretary: their key share for secret
 * ballots (made and kept in this browser), whether the other trustee's share is in,
 * and, when a secret poll closes, checking every ballot on the board and decrypting
 * the sums — with its progress and "waiting for the secretary's device".
 * @module trustee
 */
import { t, tx } from "./i18n.js";
import { h, replaceChildren } from "./dom.js";
import { errorMessage } from "./errors.js";
import { TrusteeDevice } from "./e2e-client.js";
import { E2EError } from "./e2e.js";

/** @param {unknown} err */
function trusteeError(err) {
  if (err instanceof E2EError) {
    const key = `trustee.error.${err.code}`;
    return t(key) !== key ? t(key) : err.message;
  }
  return errorMessage(err, "trustee");
}

/** @typedef {import("./procedure.js").Procedure} Procedure */
/** @typedef {import("./procedure.js").Poll} Poll */
/** @typedef {import("./e2e-client.js").TrusteeState} TrusteeState */

/**
 * @param {Procedure} proc
 * @param {{myId: string}} options
 */
export function createTrusteePanel(proc, { myId }) {
  const device = new TrusteeDevice(proc.link, myId);
  const body = h("div", { class: "trustee-body" });
  const message = h("p", { class: "form-message", role: "alert" });
  const element = h("section", { class: "panel proc-panel trustee-panel", "aria-labelledby": "trustee-title", "data-key": "unknown" },
    h("h2", { id: "trustee-title" }, tx("trustee.title")), message, body);
  /** @type {TrusteeState | null} */
  let state = null;
  let keyStatus = "unknown";
  /** @type {Map<number, {done: number, total: number, state: "checking" | "sent" | "failed", error?: string}>} */
  const progress = new Map();
  let busy = false;

  async function refresh() {
    try {
      state = await device.state();
      keyStatus = await device.keyStatus(state);
      element.dataset.key = keyStatus;
    } catch (err) {
      message.textContent = errorMessage(err, "trustee");
    }
    render();
  }

  async function createKey() {
    busy = true;
    message.textContent = "";
    render();
    try {
      state = await device.createKey();
      keyStatus = await device.keyStatus(state);
      element.dataset.key = keyStatus;
    } catch (err) {
      message.textContent = errorMessage(err, "trustee");
    }
    busy = false;
    render();
  }

  /** @param {number} pollId */
  async function decrypt(pollId) {
    const p = progress.get(pollId);
    if (p && (p.state === "checking" || p.state === "sent")) return;
    progress.set(pollId, { done: 0, total: 0, state: "checking" });
    render();
    try {
      await device.decrypt(pollId, (done, total) => {
        progress.set(pollId, { done, total, state: "checking" });
        render();
      });
      const cur = progress.get(pollId);
      progress.set(pollId, { done: cur?.done ?? 0, total: cur?.total ?? 0, state: "sent" });
    } catch (err) {
      progress.set(pollId, { done: 0, total: 0, state: "failed", error: trusteeError(err) });
    }
    render();
  }

  /** Secret polls closed and waiting for this trustee's partial decryption. */
  function waitingForMe() {
    return (proc.state?.polls ?? []).filter((p) => p.state === "closed" && p.e2e && p.e2e.waiting_for.includes(myId));
  }

  /** @param {string} id */
  function roleName(id) {
    const who = state?.trustees.find((x) => x.trustee_id === id);
    return who ? t(`trustee.device.${who.role}`) : id;
  }

  function keyLine() {
    if (keyStatus === "here") return h("p", { class: "form-message success", "data-status": "here" }, tx("trustee.key_here"));
    if (keyStatus === "elsewhere") return h("p", { class: "form-message error", "data-status": "elsewhere" }, tx("trustee.key_elsewhere"));
    return h("div", {},
      h("p", { "data-status": keyStatus }, tx(keyStatus === "unposted" ? "trustee.key_unposted" : "trustee.key_none")),
      h("button", { type: "button", class: "btn btn-primary", "data-action": "create-key", disabled: busy, onclick: () => createKey() },
        tx(keyStatus === "unposted" ? "trustee.post_key" : "trustee.create_key")));
  }

  function render() {
    const polls = (proc.state?.polls ?? []).filter((p) => p.e2e && p.state === "closed" && (p.e2e.waiting_for.length || progress.has(p.poll_id)));
    for (const p of waitingForMe()) if (!progress.has(p.poll_id) && keyStatus === "here") decrypt(p.poll_id);
    replaceChildren(body,
      keyLine(),
      state ? h("ul", { class: "trustee-list" }, state.trustees.map((x) => h("li", { "data-trustee": x.trustee_id, "data-posted": String(Boolean(x.key)) },
        `${t(`trustee.role.${x.role}`)}: `, tx(x.key ? "trustee.posted" : "trustee.not_posted")))) : null,
      state ? h("p", { class: "hint", "data-ready": String(Boolean(state.public_key)) },
        tx(state.public_key ? "trustee.ready" : "trustee.not_ready")) : null,
      polls.map((p) => {
        const mine = progress.get(p.poll_id);
        const e = /** @type {NonNullable<Poll["e2e"]>} */ (p.e2e);
        const others = e.waiting_for.filter((id) => id !== myId);
        return h("div", { class: "trustee-poll", "data-poll-id": p.poll_id },
          h("p", {}, h("strong", {}, p.config.question)),
          mine?.state === "checking" ? h("p", { role: "status" }, tx("trustee.checking", { done: mine.done, total: mine.total })) : null,
          mine?.state === "sent" ? h("p", { class: "form-message success" }, tx("trustee.decrypted")) : null,
          mine?.state === "failed" ? h("p", { class: "form-message error" }, mine.error ?? "",
            " ", h("button", { type: "button", class: "btn btn-small", onclick: () => { progress.delete(p.poll_id); decrypt(p.poll_id); } }, tx("trustee.retry"))) : null,
          others.length ? h("p", { class: "hint", "data-waiting": others.join(",") }, tx("trustee.waiting_for", { who: others.map(roleName).join(", ") })) : null);
      }));
  }

  proc.addEventListener("trustee_key_posted", () => { refresh(); });
  proc.addEventListener("board_published", () => render());
  proc.addEventListener("change", () => render());
  proc.link.addEventListener("joined", () => { refresh(); });
  refresh();
  return { element, render, refresh };
}
