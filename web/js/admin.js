// @ts-check
/**
 * Admin: the members table, adding a member, editing name/cell/contact/status,
 * and "reset access" (a new invitation link to hand over).
 * @module admin
 */
import { api, ApiError } from "./protocol.js";
import { tx, t, formatTime, onLanguageChange } from "./i18n.js";
import { h, replaceChildren } from "./dom.js";
import { errorMessage } from "./errors.js";

/** @typedef {import("./protocol.js").Member} Member */
/** @typedef {import("./protocol.js").Cell} Cell */

const STATUSES = /** @type {const} */ (["active", "suspended", "left"]);
const MEMBER_ID = /^[A-Z0-9][A-Z0-9-]{1,31}$/;

/**
 * A contact (an e-mail address) that a narrow column wraps after its "@", not mid-word.
 * @param {string} text
 */
function contactText(text) {
  const at = text.indexOf("@");
  return at < 0 ? text : [text.slice(0, at + 1), h("wbr"), text.slice(at + 1)];
}

/** @type {import("./app.js").View} */
export function mountAdmin(root, ctx) {
  ctx.setTitle("admin.title");
  /** @type {Member[]} */
  let members = [];
  /** @type {Cell[]} */
  let cells = [];
  let filter = "";
  let alive = true;

  const message = h("div", { class: "form-message", role: "status", "aria-live": "polite" });
  const tableBox = h("div", { class: "table-wrap" }, h("p", { class: "loading" }, tx("app.loading")));
  const addBox = h("section", { class: "panel", "aria-labelledby": "add-member-title" });
  const dialog = /** @type {HTMLDialogElement} */ (h("dialog", { class: "dialog", "aria-labelledby": "dialog-title" }));
  const search = /** @type {HTMLInputElement} */ (h("input", {
    type: "search", id: "member-filter", "data-i18n-placeholder": "admin.filter_placeholder", placeholder: t("admin.filter_placeholder"),
    oninput: () => { filter = search.value.trim().toLowerCase(); renderTable(); },
  }));

  root.append(
    h("section", { class: "page" },
      h("div", { class: "page-head" }, h("h1", {}, tx("admin.title"))),
      message,
      addBox,
      h("section", { class: "panel", "aria-labelledby": "members-title" },
        h("div", { class: "panel-head" },
          h("h2", { id: "members-title" }, tx("admin.members")),
          h("div", { class: "field inline" }, h("label", { for: "member-filter" }, tx("admin.filter")), search),
        ),
        tableBox,
      ),
      dialog,
    ),
  );

  /**
   * @param {string} text
   * @param {"error" | "info" | "success"} kind
   */
  function say(text, kind) {
    message.className = `form-message ${text ? kind : ""}`;
    message.setAttribute("role", kind === "error" ? "alert" : "status");
    message.textContent = text;
  }

  /** @param {unknown} err */
  function fail(err) {
    if (err instanceof ApiError && err.code === "not_authenticated") return ctx.sessionExpired();
    say(errorMessage(err, "admin"), "error");
  }

  /** @param {number | string} id */
  const cellName = (id) => cells.find((c) => String(c.id) === String(id))?.name ?? String(id);

  /** @param {string} id @param {number | string | null} [selected] */
  function cellSelect(id, selected) {
    const select = /** @type {HTMLSelectElement} */ (h("select", { id, name: "cell_id", required: true },
      cells.map((c) => h("option", { value: String(c.id) }, c.name))));
    if (selected !== undefined && selected !== null) select.value = String(selected);
    return select;
  }

  /** @param {string} id @param {string} selected */
  function statusSelect(id, selected) {
    const select = /** @type {HTMLSelectElement} */ (h("select", { id, name: "status" },
      STATUSES.map((s) => h("option", { value: s, "data-i18n": `member.status.${s}` }, t(`member.status.${s}`)))));
    select.value = selected;
    return select;
  }

  /** Cell ids are numbers on the wire when the server uses numbers. @param {string} value */
  function cellValue(value) {
    const cell = cells.find((c) => String(c.id) === value);
    return cell ? cell.id : value;
  }

  function renderAddForm() {
    const id = /** @type {HTMLInputElement} */ (h("input", { id: "new-member-id", name: "member_id", required: true, maxlength: 32, autocapitalize: "characters", spellcheck: "false", "aria-describedby": "new-member-id-hint" }));
    const name = /** @type {HTMLInputElement} */ (h("input", { id: "new-full-name", name: "full_name", required: true, autocomplete: "off" }));
    const cell = cellSelect("new-cell");
    const contact = /** @type {HTMLInputElement} */ (h("input", { id: "new-contact", name: "contact", autocomplete: "off" }));
    const isAdmin = /** @type {HTMLInputElement} */ (h("input", { id: "new-is-admin", type: "checkbox" }));
    const submit = /** @type {HTMLButtonElement} */ (h("button", { type: "submit", class: "btn btn-primary" }, tx("admin.add")));

    /** @param {SubmitEvent} event */
    async function onSubmit(event) {
      event.preventDefault();
      const memberId = id.value.trim().toUpperCase();
      id.value = memberId;
      if (!MEMBER_ID.test(memberId)) {
        say(t("admin.error.bad_member_id"), "error");
        id.focus();
        return;
      }
      if (!name.value.trim()) {
        say(t("admin.error.name_required"), "error");
        name.focus();
        return;
      }
      /** @type {Record<string, any>} */
      const body = { member_id: memberId, full_name: name.value.trim(), cell_id: cellValue(cell.value), is_admin: isAdmin.checked };
      if (contact.value.trim()) body.contact = contact.value.trim();
      submit.disabled = true;
      try {
        const member = await api.addMember(body);
        members = [...members, member];
        renderTable();
        /** @type {HTMLFormElement} */ (event.target).reset();
        say(t("admin.added", { id: member.member_id }), "success");
        id.focus();
      } catch (err) {
        fail(err);
      } finally {
        submit.disabled = false;
      }
    }

    replaceChildren(addBox,
      h("h2", { id: "add-member-title" }, tx("admin.add_title")),
      h("form", { class: "grid-form", onsubmit: onSubmit, novalidate: true },
        h("div", { class: "field" }, h("label", { for: "new-member-id" }, tx("member.member_id")), id, h("p", { class: "hint", id: "new-member-id-hint" }, tx("admin.member_id_hint"))),
        h("div", { class: "field" }, h("label", { for: "new-full-name" }, tx("member.full_name")), name),
        h("div", { class: "field" }, h("label", { for: "new-cell" }, tx("member.cell")), cell),
        h("div", { class: "field" }, h("label", { for: "new-contact" }, tx("member.contact")), contact),
        h("div", { class: "field check-field" }, h("label", { class: "check", for: "new-is-admin" }, isAdmin, tx("member.is_admin"))),
        h("div", { class: "field submit-field" }, submit),
      ),
    );
  }

  /** @param {Member} m */
  function row(m) {
    return h("tr", { "data-member-id": m.member_id },
      h("th", { scope: "row" }, h("code", {}, m.member_id)),
      h("td", { "data-label": t("member.full_name") }, m.full_name, m.is_admin ? [" ", h("span", { class: "badge" }, tx("member.admin_badge"))] : null),
      h("td", { "data-label": t("member.cell") }, cellName(m.cell_id)),
      h("td", { class: "contact", "data-label": t("member.contact") }, contactText(m.contact ?? "")),
      h("td", { "data-label": t("member.status") }, h("span", { class: `badge status-${m.status}` }, tx(`member.status.${m.status}`))),
      h("td", { "data-label": t("admin.access") }, tx(m.has_password ? "admin.access_yes" : "admin.access_pending")),
      h("td", { class: "row-actions" },
        h("button", { type: "button", class: "btn btn-small", "data-action": "edit", onclick: () => openEdit(m), "aria-label": t("admin.edit_member", { name: m.full_name }) }, tx("admin.edit")),
        h("button", { type: "button", class: "btn btn-small", "data-action": "reset", onclick: () => resetAccess(m), "aria-label": t("admin.reset_member", { name: m.full_name }) }, tx("admin.reset")),
      ),
    );
  }

  function renderTable() {
    const shown = members
      .filter((m) => !filter || `${m.member_id} ${m.full_name} ${m.contact ?? ""}`.toLowerCase().includes(filter))
      .sort((a, b) => a.member_id.localeCompare(b.member_id));
    replaceChildren(tableBox,
      h("table", { class: "members" },
        h("caption", { class: "visually-hidden" }, tx("admin.members")),
        h("thead", {}, h("tr", {},
          ["member.member_id", "member.full_name", "member.cell", "member.contact", "member.status", "admin.access", "admin.actions"]
            .map((k) => h("th", { scope: "col" }, tx(k))))),
        h("tbody", {}, shown.map(row)),
      ),
      shown.length ? null : h("p", { class: "empty" }, tx("admin.no_match")),
      h("p", { class: "hint" }, tx("admin.count", { count: members.length })),
    );
  }

  /** @param {Member} m */
  function openEdit(m) {
    const name = /** @type {HTMLInputElement} */ (h("input", { id: "edit-full-name", value: m.full_name, required: true }));
    const cell = cellSelect("edit-cell", m.cell_id);
    const contact = /** @type {HTMLInputElement} */ (h("input", { id: "edit-contact", value: m.contact ?? "" }));
    const status = statusSelect("edit-status", m.status);
    const isAdmin = /** @type {HTMLInputElement} */ (h("input", { id: "edit-is-admin", type: "checkbox", checked: m.is_admin }));
    const error = h("p", { class: "form-message", role: "alert" });

    /** @param {SubmitEvent} event */
    async function onSubmit(event) {
      event.preventDefault();
      /** @type {Record<string, any>} */
      const changes = {};
      if (name.value.trim() !== m.full_name) changes.full_name = name.value.trim();
      if (cell.value !== String(m.cell_id)) changes.cell_id = cellValue(cell.value);
      if (contact.value.trim() !== (m.contact ?? "")) changes.contact = contact.value.trim();
      if (status.value !== m.status) changes.status = status.value;
      if (isAdmin.checked !== m.is_admin) changes.is_admin = isAdmin.checked;
      if (!Object.keys(changes).length) return dialog.close();
      if ("full_name" in changes && !changes.full_name) {
        error.className = "form-message error";
        error.textContent = t("admin.error.name_required");
        return;
      }
      try {
        const updated = await api.updateMember(m.member_id, changes);
        members = members.map((x) => (x.member_id === updated.member_id ? updated : x));
        renderTable();
        dialog.close();
        say(t("admin.saved", { id: updated.member_id }), "success");
      } catch (err) {
        if (err instanceof ApiError && err.code === "not_authenticated") return ctx.sessionExpired();
        error.className = "form-message error";
        error.textContent = errorMessage(err, "admin");
      }
    }

    replaceChildren(dialog,
      h("form", { onsubmit: onSubmit },
        h("h2", { id: "dialog-title" }, tx("admin.edit_title", { id: m.member_id })),
        h("div", { class: "field" }, h("label", { for: "edit-full-name" }, tx("member.full_name")), name),
        h("div", { class: "field" }, h("label", { for: "edit-cell" }, tx("member.cell")), cell),
        h("div", { class: "field" }, h("label", { for: "edit-contact" }, tx("member.contact")), contact),
        h("div", { class: "field" }, h("label", { for: "edit-status" }, tx("member.status")), status),
        h("div", { class: "field" }, h("label", { class: "check", for: "edit-is-admin" }, isAdmin, tx("member.is_admin"))),
        error,
        h("div", { class: "actions" },
          h("button", { type: "submit", class: "btn btn-primary" }, tx("app.save")),
          h("button", { type: "button", class: "btn btn-quiet", onclick: () => dialog.close() }, tx("app.cancel")),
        ),
      ),
    );
    dialog.showModal();
    name.focus();
  }

  /** @param {Member} m */
  async function resetAccess(m) {
    if (!confirm(t("admin.confirm_reset", { name: m.full_name, id: m.member_id }))) return;
    try {
      const { url, expires_at } = await api.resetAccess(m.member_id);
      members = members.map((x) => (x.member_id === m.member_id ? { ...x, has_password: false } : x));
      renderTable();
      showInvitation(m, url, expires_at);
    } catch (err) {
      fail(err);
    }
  }

  /**
   * @param {Member} m
   * @param {string} url
   * @param {string} expiresAt
   */
  function showInvitation(m, url, expiresAt) {
    const field = /** @type {HTMLInputElement} */ (h("input", { id: "invite-url", readonly: true, value: url, class: "mono", onfocus: () => field.select() }));
    const copied = h("span", { class: "hint", role: "status" });
    const copy = async () => {
      field.select();
      try {
        await navigator.clipboard.writeText(url);
      } catch {
        document.execCommand("copy"); // http on a LAN: no async clipboard
      }
      copied.textContent = t("admin.copied");
    };
    replaceChildren(dialog,
      h("div", {},
        h("h2", { id: "dialog-title" }, tx("admin.invitation_title", { name: m.full_name })),
        h("p", {}, tx("admin.invitation_help")),
        h("div", { class: "field" },
          h("label", { for: "invite-url" }, tx("admin.invitation_url")),
          h("div", { class: "copy-row" }, field, h("button", { type: "button", class: "btn", "data-action": "copy", onclick: copy }, tx("admin.copy"))),
          copied,
        ),
        h("p", { class: "hint" }, tx("admin.invitation_expires", { time: formatTime(expiresAt) })),
        h("div", { class: "actions" }, h("button", { type: "button", class: "btn btn-primary", onclick: () => dialog.close() }, tx("app.done"))),
      ),
    );
    dialog.showModal();
    field.focus();
  }

  async function load() {
    try {
      const data = await api.adminMembers();
      if (!alive) return;
      members = data.members;
      cells = data.cells;
      renderAddForm();
      renderTable();
    } catch (err) {
      if (alive) fail(err);
    }
  }

  const offLang = onLanguageChange(() => members.length && renderTable());
  load();
  return () => {
    alive = false;
    offLang();
    if (dialog.open) dialog.close();
  };
}
