// @ts-check
/**
 * Row-by-row changes to the organisation tree on #/org (docs/protocol.md, "Changing the
 * tree row by row"): under each committee or cell the caller may change, a disclosure
 * with its forms — add a committee or a cell, rename or move a committee or a cell, add,
 * rename or remove a cell's sub-sites, appoint or remove an officer — each asking why.
 * The server checks every change again; a refusal is shown in words.
 * @module org-edit
 */
import { request } from "./protocol.js";
import { tx, t } from "./i18n.js";
import { h } from "./dom.js";
import { runAction } from "./errors.js";

/**
 * @typedef {{committees: number[], cells: number[], officers_of: number[], change_committees: number[],
 *   add_top: boolean}} Manage
 * @typedef {{member_id: string, full_name: string, title: string, committee_id?: number, cell_id?: number}} Officer
 * @typedef {{id: number, code: string, name: string, parent: number | null}} CommitteeRef
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
 * @param {string} [scope] the error-message scope (errors.js)
 * @param {Record<string, string>} [titleVars]
 */
function form(titleKey, fields, buttonKey, send, ctx, scope = "org", titleVars = undefined) {
  const [reasonField, reason] = field("org.reason", { maxlength: 500, "data-role": "reason" });
  const message = h("div", { class: "form-message", role: "alert" });
  const button = /** @type {HTMLButtonElement} */ (h("button", { type: "submit", class: "btn btn-primary" }, tx(buttonKey)));
  return h("form", { class: "org-form", onsubmit: async (/** @type {Event} */ e) => {
    e.preventDefault();
    /** @type {string} */
    let done = "";
    const ok = await runAction(async () => { done = await send(reason.value.trim()); }, button, message, scope);
    if (ok) ctx.changed(done);
  } }, h("h3", {}, tx(titleKey, titleVars)), ...fields, reasonField, message, h("div", { class: "actions" }, button));
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
 * A labelled select of committees the caller may put something under.
 * @param {CommitteeRef[]} targets
 * @param {boolean} top offer "at the top" first
 * @returns {[HTMLElement, HTMLSelectElement]}
 */
function committeeSelect(targets, top) {
  const id = `org-edit-${++serial}`;
  const select = /** @type {HTMLSelectElement} */ (h("select", { id },
    top ? h("option", { value: "" }, tx("org.top")) : null,
    targets.map((c) => h("option", { value: String(c.id) }, `${c.name} (${c.code})`))));
  return [h("div", { class: "field" }, h("label", { for: id }, tx("org.parent")), select), select];
}

/**
 * The add-a-committee form (under ``parent``, or at the top when null).
 * @param {number | null} parent
 * @param {EditContext} ctx
 */
function addCommitteeForm(parent, ctx) {
  const [codeField, code] = field("org.code", { maxlength: 32, autocapitalize: "characters", spellcheck: "false",
    "data-role": "code" });
  const [nameField, name] = field("org.committee_name", { maxlength: 200, "data-role": "committee-name" });
  return form(parent === null ? "org.add_top_title" : "org.add_committee_title", [codeField, nameField],
    "org.add_committee", async (reason) => {
      const r = await request("POST", "/api/org/committees",
        { code: code.value.trim().toUpperCase(), name: name.value.trim(), parent_id: parent, reason });
      return t("org.committee_added", { name: r.committee.name });
    }, ctx, "org.committee");
}

/**
 * The top of the tree's editing disclosure: add a committee at the top (administrators).
 * @param {EditContext} ctx
 * @returns {HTMLElement | null}
 */
export function topEditor(ctx) {
  return ctx.manage.add_top ? disclosure("org.add_top_title", { "data-edit-top": "1" }, addCommitteeForm(null, ctx)) : null;
}

/**
 * The committees at or below ``id`` (none of them may become its parent).
 * @param {number} id
 * @param {CommitteeRef[]} all
 */
function subtree(id, all) {
  const out = new Set([id]);
  let grown = true;
  while (grown) {
    grown = false;
    for (const c of all) {
      if (c.parent !== null && out.has(c.parent) && !out.has(c.id)) { out.add(c.id); grown = true; }
    }
  }
  return out;
}

/**
 * The editing disclosure of a committee row (or null when the caller may change nothing there).
 * @param {{id: number, code: string, name: string}} c
 * @param {Officer[]} officers
 * @param {EditContext} ctx
 * @returns {HTMLElement | null}
 */
export function committeeEditor(c, officers, ctx) {
  const forms = [];
  if (ctx.manage.change_committees.includes(c.id)) {
    const [nameField, name] = field("org.committee_name", { maxlength: 200, value: c.name, "data-role": "committee-name" });
    forms.push(form("org.rename_committee_title", [nameField], "org.save", async (reason) => {
      const r = await request("PATCH", `/api/org/committees/${c.id}`, { name: name.value.trim(), reason });
      return t("org.committee_renamed", { name: r.committee.name });
    }, ctx, "org.committee"));
    const me = ctx.committees.find((x) => x.id === c.id);
    const below = subtree(c.id, ctx.committees);
    const targets = ctx.committees.filter((x) => ctx.manage.committees.includes(x.id) && !below.has(x.id)
      && x.id !== me?.parent);
    const top = ctx.manage.add_top && me?.parent !== null;
    if (targets.length || top) {
      const [parentField, select] = committeeSelect(targets, top);
      forms.push(form("org.move_committee_title", [parentField], "org.move", async (reason) => {
        await request("PATCH", `/api/org/committees/${c.id}`,
          { parent_id: select.value === "" ? null : Number(select.value), reason });
        return t("org.moved", { name: c.name });
      }, ctx, "org.committee"));
    }
  }
  if (ctx.manage.committees.includes(c.id)) {
    const [nameField, name] = field("org.cell_name", { maxlength: 200 });
    forms.push(form("org.add_cell_title", [nameField], "org.add_cell", async (reason) => {
      const r = await request("POST", "/api/org/cells", { name: name.value.trim(), committee_id: c.id, reason });
      return t("org.cell_added", { name: r.cell.name });
    }, ctx));
    forms.push(addCommitteeForm(c.id, ctx));
  }
  if (ctx.manage.officers_of.includes(c.id)) forms.push(...officerForms("committees", c.id, officers, ctx));
  return forms.length ? disclosure("org.edit_committee", { "data-edit-committee": c.code }, ...forms) : null;
}

/**
 * The sub-site forms of a cell: add one, and for each rename or remove it.
 * @param {{id: number, sites: string[], site_ids: number[]}} cell
 * @param {EditContext} ctx
 */
function siteForms(cell, ctx) {
  const base = `/api/org/cells/${cell.id}/sites`;
  const [nameField, name] = field("org.site_name", { maxlength: 200, "data-role": "site-name" });
  const add = form("org.add_site_title", [nameField], "org.add_site", async (reason) => {
    const r = await request("POST", base, { name: name.value.trim(), reason });
    return t("org.site_added", { name: r.site.name });
  }, ctx, "org.site");
  const each = cell.site_ids.flatMap((id, i) => {
    const site = cell.sites[i];
    const [renameField, rename] = field("org.site_name", { maxlength: 200, value: site, "data-role": "site-name" });
    return [
      form("org.rename_site_title", [renameField], "org.save", async (reason) => {
        const r = await request("PATCH", `${base}/${id}`, { name: rename.value.trim(), reason });
        return t("org.site_renamed", { name: r.site.name });
      }, ctx, "org.site", { name: site }),
      form("org.remove_site_title", [], "org.remove_site", async (reason) => {
        await request("DELETE", `${base}/${id}`, { reason });
        return t("org.site_removed", { name: site });
      }, ctx, "org.site", { name: site }),
    ].map((f) => { f.dataset.site = site; return f; });
  });
  return [add, ...each];
}

/**
 * The editing disclosure of a cell row (or null).
 * @param {{id: number, name: string, sites: string[], site_ids: number[]}} cell
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
  forms.push(...siteForms(cell, ctx));
  return disclosure("org.edit_cell", { "data-edit-cell": cell.name }, ...forms);
}
