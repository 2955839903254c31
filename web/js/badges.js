// @ts-check
/**
 * Small visual tokens shared by the views: meeting state and role badges.
 * @module badges
 */
import { tx } from "./i18n.js";
import { h } from "./dom.js";

/** @param {import("./protocol.js").MeetingState} state */
export function stateBadge(state) {
  return h("span", { class: `badge state-${state}`, "data-state": state }, tx(`meeting.state.${state}`));
}

/** @param {import("./protocol.js").Role | null} role */
export function roleBadge(role) {
  if (!role) return null;
  return h("span", { class: `badge role role-${role}`, "data-role": role }, tx(`role.${role}`));
}
