// @ts-check
/**
 * Attendance and quorum: the quorum indicator everyone sees, the check-in panel of the
 * secretary/chair (in the room) and of a sub-site operator (their site), and a member's
 * own check-in with the code shown in the room.
 * @module attendance
 */
import { t, tx, formatTime } from "./i18n.js";
import { h, replaceChildren } from "./dom.js";
import { errorMessage, runAction } from "./errors.js";

/** @typedef {import("./procedure.js").Procedure} Procedure */
/** @typedef {import("./procedure.js").RegisterEntry} RegisterEntry */

/**
 * The quorum rule in the member's language, from its structured fields (never the
 * server's English description).
 * @param {Record<string, any> | undefined} rule
 */
export function quorumRuleText(rule) {
  if (!rule) return "";
  if (typeof rule.members === "number") return t("quorum.rule.members", { count: rule.members });
  if (typeof rule.numerator === "number" && typeof rule.denominator === "number") {
    const comparison = rule.comparison === "at_least" ? "at_least" : "more_than";
    return t(`quorum.rule.${comparison}`, { fraction: `${rule.numerator}/${rule.denominator}` });
  }
  return "";
}

/**
 * "Quorum: 6 of 10 present (6 needed)" — green when quorate, a warning when not.
 * @param {Procedure} proc
 */
export function createQuorumIndicator(proc) {
  const el = h("div", { class: "quorum", role: "status", "aria-live": "polite", "data-quorate": "" });
  let wasQuorate = /** @type {boolean | null} */ (null);
  function render() {
    const q = proc.state?.quorum;
    if (!q) {
      replaceChildren(el, h("span", { class: "quorum-label" }, tx("quorum.loading")));
      return;
    }
    el.dataset.quorate = String(q.quorate);
    const lost = !q.quorate && wasQuorate === true;
    wasQuorate = q.quorate;
    el.dataset.lost = String(lost || el.dataset.lost === "true" && !q.quorate);
    replaceChildren(el,
      h("span", { class: "quorum-dot", "aria-hidden": "true" }),
      h("strong", { class: "quorum-state" }, tx(q.quorate ? "quorum.quorate" : el.dataset.lost === "true" ? "quorum.lost" : "quorum.not_quorate")),
      h("span", { class: "quorum-counts" }, tx("quorum.counts", { present: q.present, entitled: q.entitled, required: q.required })),
      proc.state?.attendance.excused ? h("span", { class: "quorum-excused" }, tx("quorum.excused", { count: proc.state.attendance.excused })) : null,
    );
    el.title = quorumRuleText(q.rule);
  }
  render();
  return { element: el, render };
}

/**
 * A member in the main room checks themself in with the code shown in the room.
 * Visible only while the member attends in the main room and is not checked in.
 * @param {Procedure} proc
 * @param {string} myId
 */
export function createSelfCheckIn(proc, myId) {
  const input = /** @type {HTMLInputElement} */ (h("input", { id: "self-checkin-code", name: "code", autocomplete: "off", autocapitalize: "characters", spellcheck: "false", inputmode: "text", maxlength: "32", class: "code-input" }));
  const message = h("p", { class: "form-message", role: "alert" });
  const button = /** @type {HTMLButtonElement} */ (h("button", { type: "submit", class: "btn btn-primary" }, tx("checkin.self_submit")));
  const form = h("details", { class: "self-checkin panel" },
    h("summary", {}, tx("checkin.self_title")),
    h("form", { onsubmit: submit },
      h("label", { for: "self-checkin-code" }, h("span", { class: "hint" }, tx("checkin.self_hint"))),
      h("div", { class: "inline-form" }, input, button),
      message));
  /** @param {SubmitEvent} event */
  async function submit(event) {
    event.preventDefault();
    const code = input.value.trim().toUpperCase();
    if (!code) {
      message.className = "form-message error";
      message.textContent = t("checkin.code_missing");
      return;
    }
    button.disabled = true;
    try {
      await proc.checkInWithCode(code);
      input.value = "";
      message.className = "form-message success";
      message.textContent = t("checkin.self_done");
    } catch (err) {
      message.className = "form-message error";
      message.textContent = errorMessage(err, "checkin");
    } finally {
      button.disabled = false;
    }
  }
  /** @param {boolean} inMainRoom */
  function render(inMainRoom) {
    const me = proc.entry(myId);
    // officers are checked in by being there; members in the room confirm with the code
    form.hidden = !me || me.role !== "member" || !inMainRoom || Boolean(me.checked_in);
  }
  return { element: form, render };
}

/**
 * The check-in panel. Officers check members in *in the main room*, excuse absences and
 * show the room code; an operator checks in members present at their own site.
 * @param {Procedure} proc
 * @param {{role: string, mySiteName: () => string | null}} options
 */
export function createAttendancePanel(proc, { role, mySiteName }) {
  const officer = role === "chair" || role === "secretary";
  const codeBox = h("div", { class: "room-code", hidden: !officer });
  const filter = /** @type {HTMLInputElement} */ (h("input", { type: "search", id: "checkin-filter", placeholder: t("checkin.filter"), "data-i18n-placeholder": "checkin.filter", "aria-label": t("checkin.filter") }));
  const list = h("ul", { class: "checkin-list" });
  const message = h("p", { class: "form-message", role: "alert" });
  const counts = h("p", { class: "checkin-counts" });
  const element = h("section", { class: "panel proc-panel attendance-panel", "aria-labelledby": "attendance-title" },
    h("h2", { id: "attendance-title" }, tx(officer ? "checkin.title" : "checkin.title_site", { site: mySiteName() ?? "" })),
    codeBox, counts, message, filter, list);
  /** @type {string | null} member whose excuse form is open */
  let excusing = null;
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let codeTimer;
  let codeRequested = false;

  async function loadCode() {
    clearTimeout(codeTimer);
    try {
      const { code, expires_at } = await proc.roomCode();
      replaceChildren(codeBox,
        h("span", { class: "room-code-label" }, tx("checkin.room_code")),
        h("strong", { class: "room-code-value", "data-code": code }, code),
        h("span", { class: "hint" }, tx("checkin.room_code_hint", { time: formatTime(expires_at, { timeStyle: "short" }) })),
        h("button", { type: "button", class: "btn btn-small btn-quiet", onclick: loadCode }, tx("checkin.refresh_code")));
      const wait = Math.max(10_000, new Date(expires_at).getTime() - Date.now() + 500);
      codeTimer = setTimeout(loadCode, Math.min(wait, 120_000));
    } catch (err) {
      replaceChildren(codeBox, h("span", { class: "form-message error" }, errorMessage(err, "checkin")),
        h("button", { type: "button", class: "btn btn-small", onclick: loadCode }, tx("checkin.refresh_code")));
    }
  }

  /**
   * @param {() => Promise<unknown>} action
   * @param {HTMLButtonElement} button
   */
  async function run(action, button) {
    if (await runAction(action, button, message, "checkin")) {
      excusing = null;
      render();
    }
  }

  /** @param {RegisterEntry} m */
  function status(m) {
    if (m.excused) return h("span", { class: "chip chip-excused" }, tx("checkin.excused"), m.excused.reason ? `: ${m.excused.reason}` : "");
    if (m.checked_in) {
      const where = m.checked_in.site ? m.checked_in.site.name : t("attendance.main_room");
      return h("span", { class: "chip chip-in" }, tx("checkin.checked_in_at", { where }));
    }
    if (m.online) return h("span", { class: "chip chip-online" }, tx("checkin.online"));
    if (m.present) return h("span", { class: "chip chip-online" }, tx("checkin.present"));
    return h("span", { class: "chip chip-absent" }, tx("checkin.absent"));
  }

  /** @param {RegisterEntry} m */
  function row(m) {
    /** @type {HTMLElement[]} */
    const buttons = [];
    const mineToUndo = m.checked_in && (officer ? !m.checked_in.site : m.checked_in.site?.name === mySiteName());
    // a member already present (connected, or checked in) is not offered "Check in"
    if (!m.present && !m.excused) {
      const b = /** @type {HTMLButtonElement} */ (h("button", { type: "button", class: "btn btn-small btn-primary", "data-action": "check-in" }, tx("checkin.check_in")));
      b.addEventListener("click", () => run(() => proc.checkIn(m.member_id), b));
      buttons.push(b);
    }
    if (mineToUndo) {
      const b = /** @type {HTMLButtonElement} */ (h("button", { type: "button", class: "btn btn-small", "data-action": "check-out" }, tx("checkin.check_out")));
      b.addEventListener("click", () => run(() => proc.checkOut(m.member_id), b));
      buttons.push(b);
    }
    if (officer && !m.present && !m.excused) {
      buttons.push(h("button", { type: "button", class: "btn btn-small btn-quiet", "data-action": "excuse", onclick: () => { excusing = m.member_id; render(); } }, tx("checkin.excuse")));
    }
    /** @type {HTMLElement | null} */
    let excuseForm = null;
    if (excusing === m.member_id) {
      const reason = /** @type {HTMLInputElement} */ (h("input", { id: `excuse-${m.member_id}`, maxlength: "500", required: true }));
      const save = /** @type {HTMLButtonElement} */ (h("button", { type: "submit", class: "btn btn-small btn-primary" }, tx("checkin.excuse_save")));
      excuseForm = h("form", { class: "excuse-form", onsubmit: (/** @type {Event} */ e) => {
        e.preventDefault();
        if (!reason.value.trim()) return;
        run(() => proc.excuse(m.member_id, reason.value.trim()), save);
      } },
      h("label", { for: `excuse-${m.member_id}` }, tx("checkin.excuse_reason")), reason, save,
      h("button", { type: "button", class: "btn btn-small btn-quiet", onclick: () => { excusing = null; render(); } }, tx("app.cancel")));
      queueMicrotask(() => reason.focus());
    }
    return h("li", { class: "checkin-row", "data-member-id": m.member_id, "data-present": String(m.present) },
      h("span", { class: "checkin-name" }, m.full_name, h("span", { class: "mono hint" }, ` ${m.member_id}`)),
      status(m),
      buttons.length ? h("span", { class: "checkin-actions" }, buttons) : null,
      excuseForm);
  }

  function render() {
    const s = proc.state;
    if (!s) return;
    if (officer && !codeRequested) {
      codeRequested = true; // first snapshot: we are joined, the code can be asked for
      loadCode();
    }
    replaceChildren(counts, tx("checkin.counts", { present: s.attendance.present, entitled: s.attendance.entitled, excused: s.attendance.excused }));
    const q = filter.value.trim().toLowerCase();
    const members = s.attendance.members
      .filter((m) => m.voting)
      .filter((m) => !q || m.full_name.toLowerCase().includes(q) || m.member_id.toLowerCase().includes(q))
      .sort((a, b) => Number(a.present) - Number(b.present) || a.full_name.localeCompare(b.full_name));
    if (excusing && list.querySelector(".excuse-form input") === document.activeElement) return;
    replaceChildren(list, members.length ? members.map(row) : h("li", { class: "empty" }, tx("checkin.nobody")));
  }
  filter.addEventListener("input", render);
  render();
  return {
    element,
    render,
    destroy() {
      clearTimeout(codeTimer);
    },
  };
}
