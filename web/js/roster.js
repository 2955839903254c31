// @ts-check
/**
 * The live roster: participants grouped by how they attend (main room, each
 * sub-site, remote), with role badges, connection states in words and counts — the
 * counts from the attendance register, so they agree with the quorum everywhere.
 * Members checked in without a device are listed present, where they attend.
 * Rendering only; the room view owns the state.
 * @module roster
 */
import { tx } from "./i18n.js";
import { h, replaceChildren } from "./dom.js";
import { roleBadge } from "./badges.js";

/** @typedef {import("./protocol.js").Participant} Participant */
/** @typedef {import("./protocol.js").Meeting} Meeting */

const ROLE_ORDER = { chair: 0, secretary: 1, operator: 2, member: 3, observer: 4 };

/** @param {Participant} p */
export function isPresent(p) {
  return p.state === "online" || p.state === "reconnecting";
}

/**
 * A row's state: the live seat's, or "checked_in" for a member the register counts
 * present with no device connected (checked in by the secretary or an operator).
 * @typedef {"online" | "reconnecting" | "left" | "checked_in"} RowState
 */

/**
 * @typedef {object} Row
 * @property {string} member_id
 * @property {string} full_name
 * @property {import("./protocol.js").Role} role
 * @property {RowState} state
 * @property {boolean} present counted present by the attendance register (or, for a non-voting person, connected)
 * @property {"main_room" | "sub_site" | "remote"} attendance
 * @property {{id: number, name: string} | null} site
 */

const ROW_STATE_ORDER = { online: 0, reconnecting: 1, checked_in: 2, left: 3 };

/**
 * @param {Row} a
 * @param {Row} b
 */
function byRowStateRoleName(a, b) {
  return (
    ROW_STATE_ORDER[a.state] - ROW_STATE_ORDER[b.state] ||
    ROLE_ORDER[a.role] - ROLE_ORDER[b.role] ||
    a.full_name.localeCompare(b.full_name)
  );
}

/**
 * @param {Row} p
 * @param {string} myId
 */
function personRow(p, myId) {
  // the dot is decoration; the state is also said in words (hidden when "online")
  const stateLabel = h("span", { class: p.state === "online" ? "visually-hidden" : `state-text state-${p.state}` }, tx(`participant.state.${p.state}`));
  return h("li", { class: `person is-${p.state}`, "data-member-id": p.member_id, "data-state": p.state, "data-present": String(p.present) },
    h("span", { class: `dot dot-${p.state}`, "aria-hidden": "true" }),
    h("span", { class: "person-main" },
      h("span", { class: "person-name" }, p.full_name, p.member_id === myId ? h("span", { class: "you" }, " ", tx("participant.you")) : null),
      h("span", { class: "person-id" }, p.member_id),
    ),
    h("span", { class: "person-tags" }, stateLabel, roleBadge(p.role)),
  );
}

/**
 * @param {string} key catalog key of the group name
 * @param {Record<string, string>} vars
 * @param {Row[]} people
 * @param {string} myId
 * @param {string} groupId
 */
function group(key, vars, people, myId, groupId) {
  const present = people.filter((p) => p.present).length;
  const headingId = `roster-group-${groupId}`;
  return h("section", { class: "roster-group", "data-group": groupId, "aria-labelledby": headingId },
    h("h3", { id: headingId },
      h("span", {}, tx(key, vars)),
      h("span", { class: "count", "data-count": present }, tx("roster.present_count", { count: present })),
    ),
    people.length
      ? h("ul", { class: "people" }, [...people].sort(byRowStateRoleName).map((p) => personRow(p, myId)))
      : h("p", { class: "empty" }, tx("roster.nobody")),
  );
}

/**
 * The rows: everyone connected (or reconnecting, or just left) from the live roster,
 * plus everyone the attendance register counts present without a device.
 * @param {Map<string, Participant>} roster
 * @param {Register | null} register
 * @returns {Row[]}
 */
export function rosterRows(roster, register) {
  const entries = new Map((register?.members ?? []).map((m) => [m.member_id, m]));
  /** @type {Row[]} */
  const rows = [];
  for (const p of roster.values()) {
    const entry = entries.get(p.member_id);
    const present = entry ? entry.present : isPresent(p);
    const checkedInOnly = p.state === "left" && present;
    const attendance = checkedInOnly && entry?.attendance ? entry.attendance : p.attendance;
    const site = checkedInOnly ? entry?.site ?? null : p.site ?? null;
    rows.push({ member_id: p.member_id, full_name: p.full_name, role: p.role, state: checkedInOnly ? "checked_in" : p.state, present, attendance, site });
  }
  for (const m of entries.values()) {
    if (roster.has(m.member_id) || !m.present) continue;
    rows.push({ member_id: m.member_id, full_name: m.full_name, role: m.role, state: "checked_in", present: true, attendance: m.attendance ?? "main_room", site: m.site });
  }
  return rows;
}

/** @typedef {{present: number, entitled: number, excused: number, members: import("./procedure.js").RegisterEntry[]}} Register */

/**
 * Render the whole roster into `container`. Every count comes from the attendance
 * register (the one the quorum uses) once it is known.
 * @param {HTMLElement} container
 * @param {Meeting} meeting
 * @param {Map<string, Participant>} roster
 * @param {string} myId
 * @param {Register | null} [register]
 */
export function renderRoster(container, meeting, roster, myId, register = null) {
  const people = rosterRows(roster, register);
  const groups = [];
  groups.push(group("attendance.main_room", {}, people.filter((p) => p.attendance === "main_room"), myId, "main"));
  const siteIds = new Set();
  for (const site of meeting.sites || []) {
    siteIds.add(site.id);
    groups.push(group("roster.site", { name: site.name }, people.filter((p) => p.attendance === "sub_site" && p.site?.id === site.id), myId, `site-${site.id}`));
  }
  // a site the meeting summary did not list (should not happen): still show its people
  for (const p of people) {
    if (p.attendance === "sub_site" && p.site && !siteIds.has(p.site.id)) {
      siteIds.add(p.site.id);
      const site = p.site;
      groups.push(group("roster.site", { name: site.name }, people.filter((q) => q.site?.id === site.id), myId, `site-${site.id}`));
    }
  }
  groups.push(group("attendance.remote", {}, people.filter((p) => p.attendance === "remote"), myId, "remote"));

  const seen = new Set(people.map((p) => p.member_id));
  const excused = new Set((register?.members ?? []).filter((m) => m.excused).map((m) => m.member_id));
  const absent = (meeting.participants || []).filter((p) => !seen.has(p.member_id) && !excused.has(p.member_id));
  absent.sort((a, b) => ROLE_ORDER[a.role] - ROLE_ORDER[b.role] || a.full_name.localeCompare(b.full_name));
  const online = people.filter((p) => p.state === "online").length;
  const summary = register
    ? h("p", { class: "roster-summary", "data-present": register.present, "data-total": register.entitled },
        tx("roster.summary_register", { present: register.present, entitled: register.entitled }),
        " · ", tx("roster.summary_online", { count: online }),
        register.excused ? [" · ", tx("quorum.excused", { count: register.excused })] : null)
    : h("p", { class: "roster-summary" }, tx("roster.summary_online", { count: online }));

  replaceChildren(container,
    summary,
    groups,
    absent.length
      ? h("details", { class: "roster-absent" },
          h("summary", {}, tx("roster.not_arrived", { count: absent.length })),
          h("ul", { class: "people" }, absent.map((p) =>
            h("li", { class: "person is-absent", "data-member-id": p.member_id },
              h("span", { class: "dot dot-absent", "aria-hidden": "true" }),
              h("span", { class: "person-main" }, h("span", { class: "person-name" }, p.full_name), h("span", { class: "person-id" }, p.member_id)),
              h("span", { class: "person-tags" }, roleBadge(p.role)),
            ))),
        )
      : null,
  );
}
