// @ts-check
/**
 * My meetings: the list with state badges; the chair opens and closes from here.
 * @module meetings
 */
import { api, ApiError } from "./protocol.js";
import { tx, t, formatTime, onLanguageChange } from "./i18n.js";
import { h, replaceChildren } from "./dom.js";
import { errorMessage } from "./errors.js";
import { stateBadge, roleBadge } from "./badges.js";

/** @typedef {import("./protocol.js").MeetingSummary} MeetingSummary */

/** @type {import("./app.js").View} */
export function mountMeetings(root, ctx) {
  ctx.setTitle("meetings.title");
  const list = h("div", { class: "meeting-list", "aria-live": "polite", "aria-busy": "true" }, h("p", { class: "loading" }, tx("app.loading")));
  const message = h("div", { class: "form-message", role: "alert" });
  root.append(
    h("section", { class: "page" },
      h("div", { class: "page-head" },
        h("h1", {}, tx("meetings.title")),
        h("button", { type: "button", class: "btn btn-quiet", onclick: load }, tx("meetings.refresh")),
      ),
      message,
      list,
    ),
  );
  /** @type {MeetingSummary[]} */
  let meetings = [];
  let alive = true;

  async function load() {
    list.setAttribute("aria-busy", "true");
    try {
      meetings = await api.meetings();
      if (!alive) return;
      message.textContent = "";
      message.className = "form-message";
      render();
    } catch (err) {
      if (!alive) return;
      if (err instanceof ApiError && err.code === "not_authenticated") return ctx.sessionExpired();
      message.className = "form-message error";
      message.textContent = errorMessage(err);
      list.removeAttribute("aria-busy");
    }
  }

  /**
   * @param {MeetingSummary} meeting
   * @param {"open" | "close"} action
   * @param {HTMLButtonElement} button
   */
  async function change(meeting, action, button) {
    if (action === "close" && !confirm(t("meeting.confirm_close", { title: meeting.title }))) return;
    button.disabled = true;
    try {
      const updated = action === "open" ? await api.openMeeting(meeting.id) : await api.closeMeeting(meeting.id);
      meetings = meetings.map((m) => (m.id === updated.id ? { ...m, state: updated.state } : m));
      render();
    } catch (err) {
      button.disabled = false;
      if (err instanceof ApiError && err.code === "not_authenticated") return ctx.sessionExpired();
      message.className = "form-message error";
      message.textContent = errorMessage(err);
    }
  }

  /** @param {MeetingSummary} m */
  function card(m) {
    const isChair = m.my_role === "chair";
    /** @type {HTMLElement[]} */
    const actions = [];
    if (m.state !== "closed") {
      actions.push(h("a", { class: "btn btn-primary", href: `#/meeting/${m.id}`, "data-action": "enter" }, tx("meetings.enter")));
    }
    if (m.state === "closed" && m.my_role) {
      actions.push(h("a", { class: "btn btn-primary", href: `#/minutes/${m.id}`, "data-action": "minutes" }, tx("minutes.link")));
    }
    if (isChair && m.state === "scheduled") {
      const b = /** @type {HTMLButtonElement} */ (h("button", { type: "button", class: "btn", "data-action": "open" }, tx("meeting.open")));
      b.addEventListener("click", () => change(m, "open", b));
      actions.push(b);
    }
    if (isChair && m.state === "open") {
      const b = /** @type {HTMLButtonElement} */ (h("button", { type: "button", class: "btn btn-danger", "data-action": "close" }, tx("meeting.close")));
      b.addEventListener("click", () => change(m, "close", b));
      actions.push(b);
    }
    return h("article", { class: "meeting-card", "data-meeting-id": m.id },
      h("div", { class: "meeting-card-head" },
        h("h2", {}, m.state === "closed" ? m.title : h("a", { href: `#/meeting/${m.id}` }, m.title)),
        stateBadge(m.state),
      ),
      h("dl", { class: "facts" },
        h("div", {}, h("dt", {}, tx("meeting.when")), h("dd", {}, h("time", { datetime: m.starts_at }, formatTime(m.starts_at)))),
        m.place ? h("div", {}, h("dt", {}, tx("meeting.place")), h("dd", {}, m.place)) : null,
        h("div", {}, h("dt", {}, tx("meeting.cell")), h("dd", {}, m.cell?.name ?? "")),
        m.my_role ? h("div", {}, h("dt", {}, tx("meeting.my_role")), h("dd", {}, roleBadge(m.my_role))) : null,
      ),
      actions.length ? h("div", { class: "actions" }, actions) : null,
    );
  }

  function render() {
    list.removeAttribute("aria-busy");
    if (!meetings.length) {
      replaceChildren(list, h("p", { class: "empty" }, tx("meetings.none")));
      return;
    }
    const order = { open: 0, scheduled: 1, closed: 2 };
    const sorted = [...meetings].sort((a, b) => order[a.state] - order[b.state] || a.starts_at.localeCompare(b.starts_at));
    replaceChildren(list, sorted.map(card));
  }

  const offLang = onLanguageChange(() => meetings.length && render());
  load();
  return () => {
    alive = false;
    offLang();
  };
}
