// @ts-check
/**
 * Administrators' security page: alerts as they are raised (live over the socket),
 * acknowledging and resolving them, the risk self-check, recent security events, and a
 * member's sessions (ending them).
 * @module security-admin
 */
import { ApiError } from "./protocol.js";
import { AlertFeed, securityApi } from "./security-api.js";
import { tx, t, formatTime, onLanguageChange } from "./i18n.js";
import { h, replaceChildren } from "./dom.js";
import { errorMessage } from "./errors.js";
import { sessionsTable } from "./security.js";

/** @typedef {import("./security-api.js").Alert} Alert */
/** @typedef {import("./security-api.js").Finding} Finding */

/**
 * What an alert says, in the reader's language (the server's English summary as fallback).
 * @param {Alert} a
 */
export function alertText(a) {
  const key = `security.rule.${a.rule}`;
  const vars = {
    member: a.member_id ?? "?", address: a.address ?? "?", count: Number(a.details.count ?? a.count),
    meeting: a.meeting_id ?? "?",
    addresses: Array.isArray(a.details.addresses) ? a.details.addresses.join(", ") : "",
    meetings: Array.isArray(a.details.meetings) ? a.details.meetings.join(", ") : "",
  };
  const text = t(key, vars);
  return text === key ? a.summary : text;
}

/**
 * A catalog sentence with its `{placeholders}` filled from `params`; the parts the catalog
 * puts between backticks (commands, settings, paths) are shown as code.
 * @param {string} key
 * @param {Record<string, string | number>} params
 * @returns {(string | HTMLElement)[] | null} null when the catalog lacks the key
 */
function sentence(key, params) {
  const template = t(key, typeof params.count === "number" ? { count: params.count } : {});
  if (template === key) return null;
  return template.split("`").map((part, i) => {
    const text = part.replace(/\{(\w+)\}/g, (whole, name) => (name in params ? String(params[name]) : whole));
    return i % 2 ? h("code", {}, text) : text;
  });
}

/**
 * What a self-check finding says and how to fix it, in the reader's language, from its id
 * and facts (the server's English only if this client's catalogs do not know the id).
 * @param {Finding} f
 */
export function findingText(f) {
  const params = { ...f.params };
  if (typeof params.what === "string") params.what = t(`security.file.${params.what}`);
  return {
    text: sentence(`security.finding.${f.id}`, params) ?? [f.message],
    fix: sentence(`security.finding_fix.${f.id}`, params) ?? [h("code", {}, f.fix)],
  };
}

/**
 * An event's kind in the reader's language (its stable name, as code, for a kind this
 * client does not know).
 * @param {string} kind
 */
function eventName(kind) {
  const key = `security.event.${kind}`;
  return t(key) !== key ? tx(key) : h("code", {}, kind);
}

/** @type {import("./app.js").View} */
export function mountSecurityAdmin(root, ctx) {
  ctx.setTitle("security.admin_title");
  /** @type {Map<number, Alert>} */
  const alerts = new Map();
  let showAll = false;
  let alive = true;
  const message = h("div", { class: "form-message", role: "status", "aria-live": "polite" });
  const live = h("span", { class: "chip", id: "alerts-live", "data-state": "offline" }, tx("security.feed_offline"));
  const alertsBox = h("div", { id: "alerts", "aria-live": "polite" });
  const checkBox = h("div", { id: "check" }, h("p", { class: "loading" }, tx("app.loading")));
  const eventsBox = h("div", { id: "events" });
  const memberId = /** @type {HTMLInputElement} */ (h("input", { id: "sessions-member", autocapitalize: "characters", maxlength: 32, spellcheck: "false" }));
  const memberBox = h("div", { id: "member-sessions" });
  const allToggle = /** @type {HTMLInputElement} */ (h("input", { type: "checkbox", id: "alerts-all", onchange: () => { showAll = allToggle.checked; void loadAlerts(); } }));

  root.append(h("section", { class: "page security-admin" },
    h("div", { class: "page-head" }, h("h1", {}, tx("security.admin_title")), live),
    message,
    h("section", { class: "panel", "aria-labelledby": "alerts-title" },
      h("div", { class: "panel-head" }, h("h2", { id: "alerts-title" }, tx("security.alerts_title")),
        h("label", { class: "check", for: "alerts-all" }, allToggle, tx("security.alerts_show_all"))),
      alertsBox),
    h("section", { class: "panel", "aria-labelledby": "check-title" },
      h("div", { class: "panel-head" }, h("h2", { id: "check-title" }, tx("security.check_title")),
        h("button", { type: "button", class: "btn btn-small", onclick: () => void loadCheck() }, tx("security.check_again"))),
      checkBox),
    h("section", { class: "panel", "aria-labelledby": "member-sessions-title" },
      h("h2", { id: "member-sessions-title" }, tx("security.member_sessions_title")),
      h("form", { class: "field inline", onsubmit: (/** @type {Event} */ e) => { e.preventDefault(); void loadMember(); } },
        h("label", { for: "sessions-member" }, tx("login.member_id")), memberId,
        h("button", { type: "submit", class: "btn btn-small" }, tx("security.show_sessions"))),
      memberBox),
    h("section", { class: "panel", "aria-labelledby": "events-title" },
      h("div", { class: "panel-head" }, h("h2", { id: "events-title" }, tx("security.events_title")),
        h("button", { type: "button", class: "btn btn-small", onclick: () => void loadEvents() }, tx("security.refresh"))),
      eventsBox),
  ));

  /** @param {unknown} err */
  function fail(err) {
    if (err instanceof ApiError && err.code === "not_authenticated") return ctx.sessionExpired();
    message.className = "form-message error";
    message.textContent = errorMessage(err, "security");
  }

  function renderAlerts() {
    const shown = [...alerts.values()]
      .filter((a) => showAll || a.state !== "resolved")
      .sort((a, b) => b.last_at.localeCompare(a.last_at));
    if (!shown.length) return replaceChildren(alertsBox, h("p", { class: "form-message success" }, tx("security.no_alerts")));
    replaceChildren(alertsBox, h("ul", { class: "alerts" }, shown.map((a) => h("li", {
      class: `alert alert-${a.severity}`, "data-rule": a.rule, "data-state": a.state, "data-alert-id": a.id,
    },
      h("div", { class: "alert-head" },
        h("span", { class: `chip severity-${a.severity}` }, tx(`security.severity.${a.severity}`)),
        h("strong", { class: "alert-text" }, alertText(a)),
      ),
      h("p", { class: "hint" },
        tx("security.alert_when", { first: formatTime(a.first_at), last: formatTime(a.last_at), count: a.count }),
        " · ", tx(`security.state.${a.state}`),
        a.acknowledged_by ? [" · ", tx("security.acknowledged_by", { who: a.acknowledged_by })] : null,
        a.resolved_by ? [" · ", tx("security.resolved_by", { who: a.resolved_by })] : null),
      h("div", { class: "actions" },
        a.state === "new" ? h("button", { type: "button", class: "btn btn-small", "data-action": "acknowledge", onclick: () => void setState(a, "acknowledged") }, tx("security.acknowledge")) : null,
        a.state !== "resolved" ? h("button", { type: "button", class: "btn btn-small", "data-action": "resolve", onclick: () => void setState(a, "resolved") }, tx("security.resolve")) : null),
    ))));
  }

  /**
   * @param {Alert} a
   * @param {"acknowledged" | "resolved"} state
   */
  async function setState(a, state) {
    try {
      const updated = await securityApi.setAlertState(a.id, state);
      alerts.set(updated.id, updated);
      renderAlerts();
    } catch (err) {
      fail(err);
    }
  }

  async function loadAlerts() {
    try {
      for (const a of await securityApi.alerts(showAll ? "all" : "open")) alerts.set(a.id, a);
    } catch (err) {
      return fail(err);
    }
    if (alive) renderAlerts();
  }

  /** @type {Finding[] | null} */
  let findings = null;

  function renderFindings() {
    if (!findings) return;
    if (!findings.length) return replaceChildren(checkBox, h("p", { class: "form-message success" }, tx("security.check_clean")));
    replaceChildren(checkBox, h("ul", { class: "findings" }, findings.map((f) => {
      const { text, fix } = findingText(f);
      return h("li", { class: `finding finding-${f.severity}`, "data-finding": f.id },
        h("span", { class: `chip severity-${f.severity}` }, tx(`security.severity.${f.severity}`)), " ",
        h("span", { class: "finding-text" }, text),
        h("p", { class: "hint finding-fix" }, tx("security.fix"), " ", fix));
    })));
  }

  async function loadCheck() {
    try {
      const answer = await securityApi.check();
      if (!alive) return;
      findings = answer.findings;
      renderFindings();
    } catch (err) {
      fail(err);
    }
  }

  async function loadEvents() {
    try {
      const events = (await securityApi.events()).slice(0, 50);
      if (!alive) return;
      replaceChildren(eventsBox, h("div", { class: "table-wrap" }, h("table", { class: "table" },
        h("thead", {}, h("tr", {}, h("th", {}, tx("security.col_time")), h("th", {}, tx("security.col_event")),
          h("th", {}, tx("login.member_id")), h("th", {}, tx("security.col_address")))),
        h("tbody", {}, events.map((e) => h("tr", { "data-kind": e.kind },
          h("td", {}, formatTime(e.at)), h("td", {}, eventName(e.kind)), h("td", {}, e.member_id ?? ""), h("td", {}, e.address ?? "")))))));
    } catch (err) {
      fail(err);
    }
  }

  async function loadMember() {
    const id = memberId.value.trim().toUpperCase();
    if (!id) return;
    try {
      const sessions = await securityApi.memberSessions(id);
      replaceChildren(memberBox, sessionsTable(sessions, null),
        sessions.length ? h("button", { type: "button", class: "btn btn-danger", "data-action": "end-member-sessions", onclick: async () => {
          try {
            const n = await securityApi.endMemberSessions(id);
            message.className = "form-message success";
            message.textContent = t("security.sessions_ended", { count: n });
            await loadMember();
          } catch (err) {
            fail(err);
          }
        } }, tx("security.end_member_sessions", { id })) : null);
    } catch (err) {
      fail(err);
    }
  }

  const feed = new AlertFeed();
  feed.addEventListener("status", (e) => {
    const state = /** @type {CustomEvent<string>} */ (e).detail;
    live.setAttribute("data-state", state);
    replaceChildren(live, tx(state === "live" ? "security.feed_live" : "security.feed_offline"));
    if (state === "live") void loadAlerts(); // catch up on what came while offline
  });
  feed.addEventListener("alert", (e) => {
    const a = /** @type {CustomEvent<Alert>} */ (e).detail;
    alerts.set(a.id, a);
    renderAlerts();
  });
  // sentences made from ids and facts follow a change of language
  const offLang = onLanguageChange(() => {
    if (alerts.size) renderAlerts();
    renderFindings();
  });
  void loadAlerts();
  void loadCheck();
  void loadEvents();
  return () => {
    alive = false;
    offLang();
    feed.close();
  };
}
