// @ts-check
/**
 * The live roster: participants grouped by how they attend (main room, each
 * sub-site, remote), with role badges, connection-state dots and counts.
 * Rendering only; the room view owns the state.
 * @module roster
 */
import { tx } from "./i18n.js";
import { h, replaceChildren } from "./dom.js";
import { roleBadge } from "./badges.js";

/** @typedef {import("./protocol.js").Participant} Participant */
/** @typedef {import("./protocol.js").Meeting} Meeting */

const ROLE_ORDER = { chair: 0, secretary: 1, operator: 2, member: 3, observer: 4 };
const STATE_ORDER = { online: 0, reconnecting: 1, left: 2 };

/** @param {Participant} p */
export function isPresent(p) {
  return p.state === "online" || p.state === "reconnecting";
}

/**
 * @param {Participant} a
 * @param {Participant} b
 */
function byStateRoleName(a, b) {
  return (
    STATE_ORDER[a.state] - STATE_ORDER[b.state] ||
    ROLE_ORDER[a.role] - ROLE_ORDER[b.role] ||
    a.full_name.localeCompare(b.full_name)
  );
}

/**
 * @param {Participant} p
 * @param {string} myId
 */
function personRow(p, myId) {
  // the dot is decoration; the state is also said in words (hidden when "online")
  const stateLabel = h("span", { class: p.state === "online" ? "visually-hidden" : `state-text state-${p.state}` }, tx(`participant.state.${p.state}`));
  return h("li", { class: `person is-${p.state}`, "data-member-id": p.member_id, "data-state": p.state },
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
 * @param {Participant[]} people
 * @param {string} myId
 * @param {string} groupId
 */
function group(key, vars, people, myId, groupId) {
  const present = people.filter(isPresent).length;
  const headingId = `roster-group-${groupId}`;
  return h("section", { class: "roster-group", "data-group": groupId, "aria-labelledby": headingId },
    h("h3", { id: headingId },
      h("span", {}, tx(key, vars)),
      h("span", { class: "count", "data-count": present }, tx("roster.present_count", { count: present })),
    ),
    people.length
      ? h("ul", { class: "people" }, [...people].sort(byStateRoleName).map((p) => personRow(p, myId)))
      : h("p", { class: "empty" }, tx("roster.nobody")),
  );
}

/**
 * Render the whole roster into `container`.
 * @param {HTMLElement} container
 * @param {Meeting} meeting
 * @param {Map<string, Participant>} roster
 * @param {string} myId
 */
export function renderRoster(container, meeting, roster, myId) {
  const people = [...roster.values()];
  const present = people.filter(isPresent);
  const total = meeting.participants?.length || people.length;
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
  const absent = (meeting.participants || []).filter((p) => !seen.has(p.member_id));
  absent.sort((a, b) => ROLE_ORDER[a.role] - ROLE_ORDER[b.role] || a.full_name.localeCompare(b.full_name));

  replaceChildren(container,
    h("p", { class: "roster-summary", "data-present": present.length, "data-total": total },
      tx("roster.summary", { present: present.length, total }),
      " · ",
      tx("roster.summary_online", { count: people.filter((p) => p.state === "online").length }),
    ),
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
