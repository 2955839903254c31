// @ts-check
/**
 * The current agenda item and the list of speakers: raise or lower one's hand, the
 * queue, who has the floor and for how long; the chair gives the floor and ends
 * speeches.
 * @module speakers
 */
import { t, tx } from "./i18n.js";
import { h, replaceChildren } from "./dom.js";
import { errorMessage, runAction } from "./errors.js";

/** @typedef {import("./procedure.js").Procedure} Procedure */
/** @typedef {import("./procedure.js").SpeakerEntry} SpeakerEntry */

/** @param {number} ms */
export function formatDuration(ms) {
  const s = Math.max(0, Math.floor(ms / 1000));
  const m = Math.floor(s / 60);
  return `${m}:${String(s % 60).padStart(2, "0")}`;
}

/** The warning comes this long before the limit. */
export const WARN_MS = 30_000;

/**
 * The running speech's clock: how long so far, and against the chair's limit how long
 * is left ("ok", "warn" in the last 30 s) or how far over ("over").
 * @param {SpeakerEntry & {since?: string, limit_s?: number | null}} current
 * @returns {{elapsed: number, left: number | null, state: "none" | "ok" | "warn" | "over"}}
 */
export function floorClock(current) {
  const since = current.since ? new Date(current.since).getTime() : Date.now();
  const elapsed = Math.max(0, Date.now() - since);
  if (!current.limit_s) return { elapsed, left: null, state: "none" };
  const left = current.limit_s * 1000 - elapsed;
  return { elapsed, left, state: left < 0 ? "over" : left <= WARN_MS ? "warn" : "ok" };
}

/**
 * "1:23", or with a limit "0:37 left" / "over time +0:12" (words, not colour only).
 * @param {SpeakerEntry & {since?: string, limit_s?: number | null}} current
 */
export function speakingFor(current) {
  const c = floorClock(current);
  if (c.left === null) return formatDuration(c.elapsed);
  if (c.state === "over") return t("speakers.over_time", { time: formatDuration(-(/** @type {number} */ (c.left))) });
  return t("speakers.time_left", { time: formatDuration(/** @type {number} */ (c.left) + 999) });
}

/**
 * Put the running speech's clock into `el` (its text and `data-floor-state`).
 * @param {Element | null} el
 * @param {(SpeakerEntry & {since?: string, limit_s?: number | null}) | null | undefined} current
 */
export function setFloorTime(el, current) {
  if (!el || !current) return;
  el.textContent = speakingFor(current);
  /** @type {HTMLElement} */ (el).dataset.floorState = floorClock(current).state;
}

/** Speaking-time limits the chair picks from, in seconds (0: none). */
const LIMITS = [0, 60, 120, 180, 300, 600];

/**
 * @param {Procedure} proc
 * @param {{myId: string, role: string}} options
 */
export function createSpeakersPanel(proc, { myId, role }) {
  const isChair = role === "chair";
  const canRaise = ["chair", "secretary", "member", "operator"].includes(role);
  const item = h("div", { class: "agenda-now" });
  const floor = h("div", { class: "floor", "aria-live": "polite" });
  const mine = h("div", { class: "my-hand" });
  const queue = h("ol", { class: "speaker-queue", "aria-labelledby": "queue-title" });
  const message = h("p", { class: "form-message", role: "alert" });
  const limitSelect = /** @type {HTMLSelectElement} */ (h("select", { id: "speaking-limit", "data-setting": "speaking-limit" }));
  limitSelect.addEventListener("change", () => {
    const value = Number(limitSelect.value);
    proc.setSpeakingLimit(value ? value : null).catch((err) => {
      message.className = "form-message error";
      message.textContent = errorMessage(err, "speakers");
    });
  });
  const limitField = isChair
    ? h("div", { class: "field inline speaking-limit" }, h("label", { for: "speaking-limit" }, tx("speakers.limit")), limitSelect)
    : null;
  const element = h("section", { class: "panel proc-panel speakers-panel", "aria-labelledby": "speakers-title" },
    h("h2", { id: "speakers-title" }, tx("speakers.title")),
    item, floor, limitField, mine, message,
    h("h3", { id: "queue-title" }, tx("speakers.queue")), queue);

  /**
   * @param {() => Promise<unknown>} action
   * @param {HTMLButtonElement} button
   */
  async function run(action, button) {
    await runAction(action, button, message, "speakers");
    button.disabled = false;
  }

  /**
   * @param {string} key
   * @param {string} action
   * @param {() => Promise<unknown>} fn
   * @param {string} [cls]
   */
  function button(key, action, fn, cls = "btn btn-small") {
    const b = /** @type {HTMLButtonElement} */ (h("button", { type: "button", class: cls, "data-action": action }, tx(key)));
    b.addEventListener("click", () => run(fn, b));
    return b;
  }

  /** @param {SpeakerEntry} e */
  function isMine(e) {
    return role === "operator" ? e.kind === "site" && e.raised_by === myId : e.member_id === myId;
  }

  function render() {
    const s = proc.state;
    if (!s) return;
    const current = proc.currentItem();
    replaceChildren(item, current
      ? [h("span", { class: "agenda-label" }, tx("agenda.current")), h("strong", { class: "agenda-title", "data-position": current.position }, `${current.position}. ${current.title}`)]
      : h("span", { class: "hint" }, tx("agenda.none")));
    const sp = s.speakers;
    if (isChair && document.activeElement !== limitSelect) {
      replaceChildren(limitSelect, LIMITS.map((sec) => h("option", { value: String(sec) },
        sec ? t("speakers.limit_minutes", { count: sec / 60 }) : t("speakers.no_limit"))));
      limitSelect.value = String(sp.limit_s ?? 0);
      if (limitSelect.value === "" && sp.limit_s) {
        limitSelect.append(h("option", { value: String(sp.limit_s) }, formatDuration(sp.limit_s * 1000)));
        limitSelect.value = String(sp.limit_s);
      }
    }
    if (sp.current) {
      const c = sp.current;
      const canEnd = isChair || c.member_id === myId || (role === "operator" && c.kind === "site" && isMine(c));
      replaceChildren(floor,
        h("span", { class: "floor-label" }, tx("speakers.has_floor")),
        h("strong", { class: "floor-name", "data-entry-id": c.entry_id }, c.name),
        h("span", { class: "floor-time", "data-since": c.since ?? "", "data-floor-state": floorClock(c).state }, speakingFor(c)),
        canEnd ? button(c.member_id === myId ? "speakers.end_mine" : "speakers.end", "end-speech", () => proc.endSpeech()) : null);
      floor.dataset.speaking = "true";
    } else {
      replaceChildren(floor, h("span", { class: "hint" }, tx("speakers.nobody")));
      floor.dataset.speaking = "false";
    }
    const myEntry = sp.queue.find(isMine);
    const position = myEntry ? sp.queue.indexOf(myEntry) + 1 : 0;
    replaceChildren(mine, canRaise
      ? myEntry
        ? [h("span", { class: "my-hand-state" }, tx(role === "operator" ? "speakers.site_raised" : "speakers.raised", { position })),
            button(role === "operator" ? "speakers.lower_site" : "speakers.lower", "lower-hand", () => proc.lowerHand(), "btn")]
        : sp.current && isMine(sp.current)
          ? null
          : button(role === "operator" ? "speakers.raise_site" : "speakers.raise", "raise-hand", () => proc.raiseHand(), "btn btn-primary btn-raise")
      : null);
    if (!sp.queue.length) {
      replaceChildren(queue, h("li", { class: "empty" }, tx("speakers.queue_empty")));
      return;
    }
    replaceChildren(queue, sp.queue.map((e, i) => {
      const target = e.kind === "site" && e.site ? { site_id: e.site.id } : { member_id: /** @type {string} */ (e.member_id) };
      return h("li", { class: `queue-entry${isMine(e) ? " mine" : ""}`, "data-entry-id": e.entry_id },
        h("span", { class: "queue-pos" }, String(i + 1)),
        h("span", { class: "queue-name" }, e.name, e.kind === "site" ? h("span", { class: "badge" }, tx("speakers.site")) : null),
        isChair
          ? h("span", { class: "queue-actions" },
              button("speakers.give_floor", "give-floor", () => proc.giveFloor(target), "btn btn-small btn-primary"),
              i > 0 ? button("speakers.move_up", "move-up", () => {
                const order = sp.queue.map((x) => x.entry_id);
                [order[i - 1], order[i]] = [order[i], order[i - 1]];
                return proc.reorderQueue(order);
              }) : null,
              button("speakers.remove", "remove", () => proc.lowerHand(target), "btn btn-small btn-quiet"))
          : null);
    }));
  }

  /** Refresh only the running clock. */
  function tick() {
    setFloorTime(floor.querySelector(".floor-time"), proc.state?.speakers.current);
  }

  render();
  return { element, render, tick };
}
