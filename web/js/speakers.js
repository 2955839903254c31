// @ts-check
/**
 * The current agenda item and the list of speakers: raise or lower one's hand, the
 * queue, who has the floor and for how long; the chair gives the floor and ends
 * speeches.
 * @module speakers
 */
import { t, tx } from "./i18n.js";
import { h, replaceChildren } from "./dom.js";
import { runAction } from "./errors.js";

/** @typedef {import("./procedure.js").Procedure} Procedure */
/** @typedef {import("./procedure.js").SpeakerEntry} SpeakerEntry */

/** @param {number} ms */
export function formatDuration(ms) {
  const s = Math.max(0, Math.floor(ms / 1000));
  const m = Math.floor(s / 60);
  return `${m}:${String(s % 60).padStart(2, "0")}`;
}

/**
 * "Speaking: Ana · 1:23" — updated every second by the caller's clock.
 * @param {SpeakerEntry & {since?: string}} current
 */
export function speakingFor(current) {
  const since = current.since ? new Date(current.since).getTime() : Date.now();
  return formatDuration(Date.now() - since);
}

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
  const element = h("section", { class: "panel proc-panel speakers-panel", "aria-labelledby": "speakers-title" },
    h("h2", { id: "speakers-title" }, tx("speakers.title")),
    item, floor, mine, message,
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
    if (sp.current) {
      const c = sp.current;
      const canEnd = isChair || c.member_id === myId || (role === "operator" && c.kind === "site" && isMine(c));
      replaceChildren(floor,
        h("span", { class: "floor-label" }, tx("speakers.has_floor")),
        h("strong", { class: "floor-name", "data-entry-id": c.entry_id }, c.name),
        h("span", { class: "floor-time", "data-since": c.since ?? "" }, speakingFor(c)),
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
    const c = proc.state?.speakers.current;
    const el = floor.querySelector(".floor-time");
    if (c && el) el.textContent = speakingFor(c);
  }

  render();
  return { element, render, tick };
}
