// @ts-check
/**
 * The officer's key panel (on the minutes page): make a cosigning key on this device,
 * optionally with a passphrase-sealed backup file, restore one from such a file, or enrol
 * the verifier key of a `meetingd cosign --generate` key file. The server learns only the
 * public key (POST /api/me/keys); the key itself stays in IndexedDB (officer-key.js).
 * @module officer-key-panel
 */
import { ApiError } from "./protocol.js";
import { minutesApi } from "./procedure.js";
import { t, tx } from "./i18n.js";
import { h, replaceChildren } from "./dom.js";
import { errorMessage } from "./errors.js";
import * as keys from "./officer-key.js";

/** @typedef {import("./procedure.js").OfficerKey} OfficerKey */
/** @typedef {{key: keys.StoredKey, verifierKey: string, fingerprint: string}} LocalKey */
/**
 * @typedef {object} KeyState
 * @property {string} keyName
 * @property {OfficerKey | null} server the enrolled key
 * @property {LocalKey | null} local this device's key
 * @property {"none" | "here" | "elsewhere" | "unenrolled"} where
 * @property {boolean} reenrol the server once held this officer's key (retired)
 */

/** A fingerprint in groups of four, easier to compare aloud. @param {string} fp */
export function formatFingerprint(fp) {
  return (fp.match(/.{1,4}/g) ?? [fp]).join(" ");
}

/** @param {unknown} err */
export function keyErrorMessage(err) {
  if (err instanceof keys.KeyError) return t(`officer_key.error.${err.code}`);
  if (err instanceof ApiError && err.details.reason) {
    const key = `officer_key.error.${err.details.reason}`;
    if (t(key) !== key) return t(key);
  }
  return errorMessage(err, "officer_key");
}

/** Dispatched on `window` once this device's cosigning key is enrolled. */
export const OFFICER_KEY_ENROLLED = "meetingd-officer-key-enrolled";

/** @returns {Promise<KeyState>} */
export async function loadKeyState() {
  const mine = await minutesApi.myKeys();
  const local = await keys.describeKey(mine.key_name);
  /** @type {KeyState["where"]} */
  let where = "none";
  if (mine.key) where = local && local.verifierKey === mine.key.verifier_key ? "here" : "elsewhere";
  else if (local) where = "unenrolled";
  return { keyName: mine.key_name, server: mine.key, local, where, reenrol: mine.reenrol };
}

/**
 * Offer a file for download without a server round trip.
 * @param {string} text @param {string} filename
 */
function download(text, filename) {
  const a = /** @type {HTMLAnchorElement} */ (h("a", { href: URL.createObjectURL(new Blob([text], { type: "application/json" })), download: filename }));
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 60_000);
}

/**
 * @param {HTMLElement} root the panel's container
 * @param {{memberId: string, onChange: (state: KeyState) => void}} options
 * @returns {{refresh: () => Promise<KeyState>}}
 */
export function mountOfficerKey(root, { memberId, onChange }) {
  root.classList.add("officer-key");
  /** @type {string | null} */
  let backupText = null;
  let replacing = false;

  /** @param {KeyState} state @param {string} vkey @param {"browser" | "file"} origin */
  async function enrol(state, vkey, origin) {
    await minutesApi.enrolKey(vkey, origin, state.server !== null);
    replacing = false;
    // the trustee panel signs the poll key with it (docs/e2e-ballots.md §3d)
    window.dispatchEvent(new CustomEvent(OFFICER_KEY_ENROLLED));
  }

  /** @param {KeyState} state */
  function createForm(state) {
    const msg = h("p", { class: "form-message", role: "alert" });
    const withBackup = /** @type {HTMLInputElement} */ (h("input", { type: "checkbox", id: "key-backup", checked: true }));
    const p1 = /** @type {HTMLInputElement} */ (h("input", { type: "password", id: "backup-pass", autocomplete: "new-password" }));
    const p2 = /** @type {HTMLInputElement} */ (h("input", { type: "password", id: "backup-pass2", autocomplete: "new-password" }));
    const fields = h("div", { class: "backup-fields" },
      h("div", { class: "field" }, h("label", { for: "backup-pass" }, tx("officer_key.backup_passphrase")), p1,
        h("p", { class: "hint" }, tx("officer_key.passphrase_hint", { count: keys.MIN_PASSPHRASE }))),
      h("div", { class: "field" }, h("label", { for: "backup-pass2" }, tx("officer_key.passphrase_again")), p2));
    withBackup.addEventListener("change", () => { fields.hidden = !withBackup.checked; });
    const submit = /** @type {HTMLButtonElement} */ (h("button", { type: "submit", class: "btn btn-primary", "data-action": "create-key" },
      tx(state.server ? "officer_key.replace_here" : "officer_key.create")));
    return h("form", { class: "key-form", onsubmit: async (/** @type {Event} */ e) => {
      e.preventDefault();
      msg.className = "form-message error";
      if (withBackup.checked) {
        if (p1.value.length < keys.MIN_PASSPHRASE) { msg.textContent = t("officer_key.error.passphrase_too_short", { count: keys.MIN_PASSPHRASE }); p1.focus(); return; }
        if (p1.value !== p2.value) { msg.textContent = t("officer_key.pass_mismatch"); p2.focus(); return; }
      }
      submit.disabled = true;
      msg.className = "form-message";
      msg.textContent = t("officer_key.working");
      try {
        const made = await keys.createKey(state.keyName, { backupPassphrase: withBackup.checked ? p1.value : null });
        p1.value = p2.value = "";
        backupText = made.backup;
        if (backupText) download(backupText, `meetingd-key-${memberId}.json`);
        await enrol(state, made.verifierKey, "browser");
        await refresh();
      } catch (err) {
        submit.disabled = false;
        msg.className = "form-message error";
        msg.textContent = keyErrorMessage(err);
      }
    } },
    h("label", { class: "check", for: "key-backup" }, withBackup, tx("officer_key.with_backup")),
    h("p", { class: "hint" }, tx("officer_key.backup_explain")),
    fields, msg, submit);
  }

  /** @param {KeyState} state */
  function restoreForm(state) {
    const msg = h("p", { class: "form-message", role: "alert" });
    const file = /** @type {HTMLInputElement} */ (h("input", { type: "file", id: "backup-file", accept: ".json,application/json" }));
    const pass = /** @type {HTMLInputElement} */ (h("input", { type: "password", id: "restore-pass", autocomplete: "current-password" }));
    const submit = /** @type {HTMLButtonElement} */ (h("button", { type: "submit", class: "btn", "data-action": "restore-key" }, tx("officer_key.restore")));
    return h("details", { class: "key-restore", open: state.where === "elsewhere" },
      h("summary", {}, tx("officer_key.restore_title")),
      h("form", { onsubmit: async (/** @type {Event} */ e) => {
        e.preventDefault();
        msg.className = "form-message error";
        const chosen = file.files?.[0];
        if (!chosen) { msg.textContent = t("officer_key.choose_file"); file.focus(); return; }
        submit.disabled = true;
        msg.className = "form-message";
        msg.textContent = t("officer_key.working");
        try {
          const restored = await keys.restoreBackup(await chosen.text(), pass.value);
          pass.value = "";
          if (restored.key.name !== state.keyName) throw new keys.KeyError("not_yours", "the backup is another member's key");
          if (!state.server || state.server.verifier_key !== restored.verifierKey) await enrol(state, restored.verifierKey, "browser");
          await refresh();
        } catch (err) {
          submit.disabled = false;
          pass.value = "";
          msg.className = "form-message error";
          msg.textContent = keyErrorMessage(err);
        }
      } },
      h("div", { class: "field" }, h("label", { for: "backup-file" }, tx("officer_key.backup_file")), file),
      h("div", { class: "field" }, h("label", { for: "restore-pass" }, tx("officer_key.backup_passphrase")), pass),
      msg, submit));
  }

  /** @param {KeyState} state */
  function keyFileForm(state) {
    const msg = h("p", { class: "form-message", role: "alert" });
    const vkey = /** @type {HTMLTextAreaElement} */ (h("textarea", { id: "vkey-paste", rows: 3, spellcheck: "false", placeholder: `${state.keyName}+…` }));
    const submit = /** @type {HTMLButtonElement} */ (h("button", { type: "submit", class: "btn", "data-action": "enrol-vkey" }, tx("officer_key.enrol_file")));
    return h("details", { class: "key-file" },
      h("summary", {}, tx("officer_key.file_title")),
      h("p", { class: "hint" }, tx("officer_key.file_explain"), " ", h("code", {}, `meetingd cosign --generate KEY --name ${state.keyName}`)),
      h("form", { onsubmit: async (/** @type {Event} */ e) => {
        e.preventDefault();
        submit.disabled = true;
        try {
          await enrol(state, vkey.value.trim(), "file");
          await refresh();
        } catch (err) {
          submit.disabled = false;
          msg.className = "form-message error";
          msg.textContent = keyErrorMessage(err);
        }
      } },
      h("div", { class: "field" }, h("label", { for: "vkey-paste" }, tx("officer_key.verifier_key")), vkey), msg, submit));
  }

  /** @param {KeyState} state */
  function render(state) {
    root.dataset.keyState = state.where;
    /** @type {(HTMLElement | null)[]} */
    const parts = [h("h3", {}, tx("officer_key.title"))];
    if (state.reenrol && !state.server) parts.push(h("p", { class: "form-message warning reenrol-notice", role: "status" }, tx("officer_key.reenrol")));
    if (state.server) {
      parts.push(h("p", {}, tx("officer_key.enrolled"), " ",
        h("code", { class: "fingerprint my-fingerprint", "data-fingerprint": state.server.fingerprint }, formatFingerprint(state.server.fingerprint))),
      h("p", { class: "hint" }, tx("officer_key.compare")));
    }
    if (state.where === "here") {
      parts.push(h("p", { class: "form-message success key-here", role: "status" }, tx("officer_key.here")));
      if (backupText) {
        const text = backupText;
        parts.push(h("p", {}, h("button", { type: "button", class: "btn btn-small", "data-action": "download-backup", onclick: () => download(text, `meetingd-key-${memberId}.json`) }, tx("officer_key.download_again"))));
      }
    } else if (state.where === "elsewhere") {
      parts.push(h("p", { class: "form-message info key-elsewhere", role: "status" }, tx("officer_key.elsewhere")));
      parts.push(restoreForm(state));
      if (replacing) parts.push(createForm(state));
      else parts.push(h("p", {}, h("button", { type: "button", class: "btn btn-quiet", "data-action": "replace-key", onclick: () => { replacing = true; render(state); } }, tx("officer_key.replace"))));
    } else if (state.where === "unenrolled" && state.local) {
      const local = state.local;
      const msg = h("p", { class: "form-message", role: "alert" });
      const again = /** @type {HTMLButtonElement} */ (h("button", { type: "button", class: "btn btn-primary", "data-action": "enrol-local" }, tx("officer_key.enrol_local")));
      again.addEventListener("click", async () => {
        again.disabled = true;
        try {
          await enrol(state, local.verifierKey, "browser");
          await refresh();
        } catch (err) {
          again.disabled = false;
          msg.className = "form-message error";
          msg.textContent = keyErrorMessage(err);
        }
      });
      parts.push(h("p", {}, tx("officer_key.unenrolled"), " ", h("code", { class: "fingerprint" }, formatFingerprint(local.fingerprint))), msg, again);
    } else {
      parts.push(h("p", {}, tx("officer_key.explain")), createForm(state), restoreForm(state));
    }
    if (state.where !== "here") parts.push(keyFileForm(state));
    // A refresh rebuilds the forms: what the officer was typing (a passphrase half-entered)
    // and where the cursor was must survive it, or a refresh mid-typing loses the passphrase.
    const kept = new Map();
    for (const el of root.querySelectorAll("input[id], textarea[id]")) {
      const field = /** @type {HTMLInputElement} */ (el);
      if (field.type !== "file") kept.set(field.id, field.type === "checkbox" ? field.checked : field.value);
    }
    const active = document.activeElement;
    const focusedId = active instanceof HTMLElement && root.contains(active) ? active.id : "";
    replaceChildren(root, parts);
    for (const [id, value] of kept) {
      const field = root.querySelector(`#${CSS.escape(id)}`);
      if (!(field instanceof HTMLInputElement || field instanceof HTMLTextAreaElement)) continue;
      if (typeof value === "boolean" && field instanceof HTMLInputElement) {
        if (field.checked !== value) {
          field.checked = value;
          field.dispatchEvent(new Event("change"));
        }
      } else if (typeof value === "string") {
        field.value = value;
      }
    }
    if (focusedId) /** @type {HTMLElement | null} */ (root.querySelector(`#${CSS.escape(focusedId)}`))?.focus();
  }

  async function refresh() {
    const state = await loadKeyState();
    render(state);
    onChange(state);
    return state;
  }

  return { refresh };
}
