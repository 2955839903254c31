// @ts-check
/**
 * Row-by-row changes to the organisation tree on #/org (docs/protocol.md, "Changing the
 * tree row by row"): under each committee or cell the caller may change, a disclosure
 * with its forms — add a cell, rename or move a cell, appoint or remove an officer — each
 * asking why. The server checks every change again; a refusal is shown in words.
 * @module org-edit
 */
import { request } from "./protocol.js";
import { tx, t } from "./i18n.js";
import { h } from "./dom.js";
import { runAction } from "./errors.js";

/**
 * @typedef {{committees: number[], cells: number[], officers_of: number[]}} Manage
 * @typedef {{member_id: string, full_name: string, title: string, committee_id?: number, cell_id?: number}} Officer
 * @typedef {{id: number, code: string, name: string}} CommitteeRef
 * @typedef {{manage: Manage, committees: CommitteeRef[], changed: (text: string) => void}} EditContext
 */

let serial = 0;

/**
 * A labelled input with a unique id.
 * @param {string} labelKey
 * @param {Record<string, any>} attrs
 * @returns {[HTMLElement, HTMLInputElement]}
 */
function field(labelKey, attrs) {
  const id = `org-edit-${++serial}`;
  const input = /** @type {HTMLInputElement} */ (h("input", { id, type: "text", required: true, ...attrs }));
  return [h("div", { class: "field" }, h("label", { for: id }, tx(labelKey)), input), input];
}

/**
 * One form: its fields, a reason, a submit button and its own message line.
 * @param {string} titleKey
 * @param {HTMLElement[]} fields
 * @param {string} buttonKey
 * @param {(reason: string) => Promise<string>} send returns the sentence to show once done
 * @param {EditContext} ctx
 */
function form(titleKey, fields, buttonKey, send, ctx) {
  const [reasonField, reason] = field("org.reason", { maxlength: 500, "data-role": "reason" });
  const message = h("div", { class: "form-message", role: "alert" });
  const button = /** @type {HTMLButtonElement} */ (h("button", { type: "submit", class: "btn btn-primary" }, tx(buttonKey)));
  return h("form", { class: "org-form", onsubmit: async (/** @type {Event} */ e) => {
    e.preventDefault();
    /** @type {string} */
    let done = "";
    const ok = await runAction(async () => { done = await send(reason.value.trim()); }, button, message, "org");
    if (ok) ctx.changed(done);
  } }, h("h3", {}, tx(titleKey)), ...fields, reasonField, message, h("div", { class: "actions" }, button));
}

/**
 * @param {string} summaryKey
 * @param {Record<string, string>} data
 * @param {...HTMLElement} forms
 */
function disclosure(summaryKey, data, ...forms) {
  return h("details", { class: "org-edit", ...data }, h("summary", {}, tx(summaryKey)), ...forms);
}

/**
 * The officers of a committee or cell, each with a remove form, and the appoint form.
 * @param {"committees" | "cells"} unit
 * @param {number} id
 * @param {Officer[]} officers
 * @param {EditContext} ctx
 */
function officerForms(unit, id, officers, ctx) {
  const base = `/api/org/${unit}/${id}/officers/`;
  const [memberField, member] = field("org.member_id", { maxlength: 32, autocapitalize: "characters", spellcheck: "false" });
  const [titleField, title] = field("org.officer_title", { maxlength: 200 });
  const appoint = form("org.appoint_title", [memberField, titleField], "org.appoint", async (reason) => {
    const who = member.value.trim().toUpperCase();
    const r = await request("PUT", base + encodeURIComponent(who), { title: title.value.trim(), reason });
    return t("org.appointed", { name: r.officer.full_name, title: r.officer.title });
  }, ctx);
  const removals = officers.map((o) => form("org.remove_title", [h("p", {}, `${o.title}: ${o.full_name} (${o.member_id})`)],
    "org.remove", async (reason) => {
      await request("DELETE", base + encodeURIComponent(o.member_id), { reason });
      return t("org.removed", { name: o.full_name });
    }, ctx));
  return [appoint, ...removals];
}

/**
 * The editing disclosure of a committee row (or null when the caller may change nothing there).
 * @param {{id: number, code: string}} c
 * @param {Officer[]} officers
 * @param {EditContext} ctx
 * @returns {HTMLElement | null}
 */
export function committeeEditor(c, officers, ctx) {
  const forms = [];
  if (ctx.manage.committees.includes(c.id)) {
    const [nameField, name] = field("org.cell_name", { maxlength: 200 });
    forms.push(form("org.add_cell_title", [nameField], "org.add_cell", async (reason) => {
      const r = await request("POST", "/api/org/cells", { name: name.value.trim(), committee_id: c.id, reason });
      return t("org.cell_added", { name: r.cell.name });
    }, ctx));
  }
  if (ctx.manage.officers_of.includes(c.id)) forms.push(...officerForms("committees", c.id, officers, ctx));
  return forms.length ? disclosure("org.edit_committee", { "data-edit-committee": c.code }, ...forms) : null;
}

/**
 * The editing disclosure of a cell row (or null).
 * @param {{id: number, name: string}} cell
 * @param {number | null} committeeId
 * @param {Officer[]} officers
 * @param {EditContext} ctx
 * @returns {HTMLElement | null}
 */
export function cellEditor(cell, committeeId, officers, ctx) {
  if (!ctx.manage.cells.includes(cell.id)) return null;
  const [nameField, name] = field("org.cell_name", { maxlength: 200, value: cell.name });
  const rename = form("org.rename_title", [nameField], "org.save", async (reason) => {
    const r = await request("PATCH", `/api/org/cells/${cell.id}`, { name: name.value.trim(), reason });
    return t("org.renamed", { name: r.cell.name });
  }, ctx);
  const targets = ctx.committees.filter((c) => ctx.manage.committees.includes(c.id) && c.id !== committeeId);
  const forms = [rename];
  if (targets.length) {
    const id = `org-edit-${++serial}`;
    const select = /** @type {HTMLSelectElement} */ (h("select", { id },
      targets.map((c) => h("option", { value: String(c.id) }, `${c.name} (${c.code})`))));
    forms.push(form("org.move_title", [h("div", { class: "field" }, h("label", { for: id }, tx("org.committee")), select)],
      "org.move", async (reason) => {
        await request("PATCH", `/api/org/cells/${cell.id}`, { committee_id: Number(select.value), reason });
        return t("org.moved", { name: cell.name });
      }, ctx));
  }
  forms.push(...officerForms("cells", cell.id, officers, ctx));
  return disclosure("org.edit_cell", { "data-edit-cell": cell.name }, ...forms);
}
