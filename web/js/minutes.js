// @ts-check
/**
 * The minutes page (route `#/minutes/<meeting_id>`): the rendered minutes in the
 * member's language, the seal and each officer's cosignature; for the chair and the
 * secretary, their cosigning key on this device (officer-key-panel.js), sealing, and
 * cosigning the sealed checkpoint in the browser after review.
 * @module minutes
 */
import { api, ApiError } from "./protocol.js";
import { minutesApi } from "./procedure.js";
import { t, tx, formatTime, language, onLanguageChange } from "./i18n.js";
import { h, replaceChildren } from "./dom.js";
import { errorMessage } from "./errors.js";
import { roleBadge, stateBadge } from "./badges.js";

import { formatFingerprint, keyErrorMessage, mountOfficerKey } from "./officer-key-panel.js";
import { cosignLine } from "./officer-key.js";

/** @typedef {import("./procedure.js").MinutesView} MinutesView */

export { formatFingerprint };

/**
 * Whether a checkpoint's text (C2SP tlog-checkpoint: origin, size, base64 root hash) is this
 * meeting's log, of the size and root shown: what an officer signs is the text, so a server
 * must not get a signature over another meeting's checkpoint by showing this one's figures.
 * @param {string} text @param {number | string} meetingId @param {number} size @param {string} rootHex
 * @returns {boolean}
 */
export function checkpointMatches(text, meetingId, size, rootHex) {
  const [origin, sizeLine, rootLine] = text.split("\n");
  if (!origin || !origin.endsWith(`/${meetingId}`) || origin.includes(" ")) return false;
  if (sizeLine !== String(size)) return false;
  try {
    const bytes = Uint8Array.from(atob(rootLine || ""), (c) => c.charCodeAt(0));
    const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
    return bytes.length === 32 && hex === rootHex.toLowerCase();
  } catch {
    return false;
  }
}

/**
 * @param {HTMLElement} root
 * @param {import("./app.js").AppContext} ctx
 * @param {number} meetingId
 */
export function mountMinutes(root, ctx, meetingId) {
  ctx.setTitle("minutes.title");
  const myId = ctx.me?.member_id ?? "";
  const head = h("div", { class: "page-head" }, h("h1", {}, tx("minutes.title")),
    h("a", { class: "btn btn-quiet", href: "#/meetings" }, tx("nav.back_to_meetings")));
  const message = h("div", { class: "form-message", role: "alert" });
  const status = h("section", { class: "panel minutes-status", "aria-labelledby": "minutes-status-title" });
  const mine = h("section", { class: "panel minutes-mine", hidden: true, "aria-labelledby": "minutes-mine-title" });
  const frame = /** @type {HTMLIFrameElement} */ (h("iframe", { class: "minutes-frame", title: t("minutes.document"), sandbox: "", referrerpolicy: "no-referrer" }));
  const docLinks = h("p", { class: "minutes-links" });
  const doc = h("section", { class: "panel minutes-doc", "aria-labelledby": "minutes-doc-title" },
    h("div", { class: "panel-head" }, h("h2", { id: "minutes-doc-title" }, tx("minutes.document")), docLinks), frame);
  root.append(h("section", { class: "page minutes-page" }, head, message, h("div", { class: "minutes-layout" }, h("div", { class: "minutes-side" }, status, mine), doc)));

  /** @type {MinutesView | null} */
  let view = null;
  /** @type {import("./protocol.js").Meeting | null} */
  let meeting = null;
  /** @type {import("./officer-key-panel.js").KeyState | null} */
  let keyState = null;
  /** @type {{refresh: () => Promise<unknown>} | null} */
  let keyPanel = null;
  const keyBox = h("div", { class: "officer-key-box" });
  // The officer's part around the key panel is rebuilt on every render; the key panel
  // itself stays where it is, so a reload never takes the focus (and what the officer is
  // typing, a backup passphrase) away from its fields.
  const mineTitle = h("h2", { id: "minutes-mine-title" });
  const mineRest = h("div", { class: "minutes-mine-actions" });
  mine.append(mineTitle, keyBox, mineRest);
  let alive = true;
  let shownLang = "";

  /** @param {unknown} err */
  function fail(err) {
    if (err instanceof ApiError && err.code === "not_authenticated") return ctx.sessionExpired();
    message.className = "form-message error";
    message.textContent = errorMessage(err, "minutes");
  }

  function docLang() {
    return language();
  }

  function renderDoc() {
    if (!view) return;
    const lang = docLang();
    const url = minutesApi.htmlUrl(meetingId, lang);
    // reload the document when the language changes, or when a seal changed it
    const key = `${lang}|${view.sealed?.sha256 ?? "draft"}|${view.entries.length}`;
    if (key !== shownLang) {
      shownLang = key;
      frame.src = url;
    }
    replaceChildren(docLinks,
      h("a", { class: "btn btn-small", href: url, target: "_blank", rel: "noopener", "data-action": "open-html" }, tx("minutes.open_print")),
      h("a", { class: "btn btn-small", href: url, download: `meeting-${meetingId}-minutes-${lang}.html` }, tx("minutes.download_html")),
      h("a", { class: "btn btn-small", href: minutesApi.csvUrl(meetingId), download: "", "data-action": "csv" }, tx("minutes.download_csv")),
      h("button", { type: "button", class: "btn btn-small", "data-action": "entries", onclick: downloadEntries }, tx("minutes.download_entries")));
  }

  function downloadEntries() {
    if (!view) return;
    const blob = new Blob([JSON.stringify({ meeting_id: view.meeting_id, origin: view.origin, log_key: view.log_key, checkpoint: view.checkpoint, entries: view.entries }, null, 2)], { type: "application/json" });
    const a = /** @type {HTMLAnchorElement} */ (h("a", { href: URL.createObjectURL(blob), download: `meeting-${meetingId}-entries.json` }));
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(a.href), 1000);
  }

  function renderStatus() {
    if (!view) return;
    const v = view;
    replaceChildren(status,
      h("h2", { id: "minutes-status-title" }, meeting?.title ?? "", " ", stateBadge(v.state)),
      meeting ? h("p", { class: "hint" }, formatTime(meeting.starts_at), meeting.place ? ` · ${meeting.place}` : "") : null,
      h("dl", { class: "facts minutes-facts" },
        h("div", {}, h("dt", {}, tx("minutes.seal")), h("dd", { class: "seal-state", "data-sealed": String(Boolean(v.sealed)) },
          v.sealed
            ? [tx("minutes.sealed", { lang: v.sealed.lang.toUpperCase(), count: v.sealed.covers }), h("br"), h("code", { class: "hash", title: v.sealed.sha256 }, `SHA-256 ${v.sealed.sha256.slice(0, 16)}…`)]
            : tx(v.state === "closed" ? "minutes.not_sealed" : "minutes.draft"))),
        h("div", {}, h("dt", {}, tx("minutes.entries")), h("dd", {}, String(v.entries.length))),
        v.checkpoint ? h("div", {}, h("dt", {}, tx("minutes.checkpoint")), h("dd", {}, tx("minutes.checkpoint_size", { size: v.checkpoint.size }), h("br"), h("code", { class: "hash", title: v.checkpoint.root_hash }, v.checkpoint.root_hash.slice(0, 16) + "…"))) : null,
        h("div", {}, h("dt", {}, tx("minutes.server_key")), h("dd", {}, h("code", { class: "fingerprint" }, formatFingerprint(v.log_key_fingerprint)))),
      ),
      h("h3", {}, tx("minutes.cosignatures")),
      h("ul", { class: "officers" }, v.officers.map((o) => h("li", { class: "officer", "data-role": o.role, "data-member-id": o.member_id, "data-cosigned": String(o.cosigned) },
        h("div", { class: "officer-head" }, roleBadge(o.role), h("strong", {}, o.full_name),
          o.cosigned
            ? h("span", { class: "chip chip-in cosigned" }, "✓ ", tx("minutes.cosigned_at", { time: formatTime(o.cosigned_at) }))
            : h("span", { class: "chip chip-absent" }, tx("minutes.not_cosigned"))),
        o.key
          ? h("p", { class: "hint" }, tx("minutes.key_fingerprint"), " ", h("code", { class: "fingerprint" }, formatFingerprint(o.key.fingerprint)))
          : h("p", { class: "hint" }, tx("minutes.no_key_yet")),
      ))),
      v.officers.every((o) => o.cosigned) && v.officers.length
        ? h("p", { class: "form-message success all-cosigned" }, tx("minutes.all_cosigned"))
        : null,
      (v.witnesses ?? []).length ? h("h3", {}, tx("minutes.witnesses")) : null,
      (v.witnesses ?? []).length
        ? h("ul", { class: "witnesses" }, (v.witnesses ?? []).map((w) => h("li", { class: "witness", "data-refused": String(Boolean(w.refused)) },
          h("strong", {}, w.name), " ",
          w.refused
            ? h("p", { class: "form-message error witness-refused", role: "alert" }, tx("minutes.witness_refused"), " ", w.refused)
            : h("span", { class: "chip" }, tx("minutes.witness_cosigned", { size: w.cosigned_size, total: v.entries.length })),
          h("p", { class: "hint" }, tx("minutes.key_fingerprint"), " ", h("code", { class: "fingerprint" }, formatFingerprint(w.fingerprint))))))
        : null,
    );
  }

  /** The officer's part: their key on this device, sealing, and cosigning in the browser. */
  function renderMine() {
    if (!view) return;
    const officer = view.officers.find((o) => o.member_id === myId);
    mine.hidden = !officer;
    if (!officer) return;
    if (!keyPanel) {
      keyPanel = mountOfficerKey(keyBox, { memberId: myId, onChange: (state) => { keyState = state; reload().catch(fail); } });
      keyPanel.refresh().catch(fail);
    }
    const msg = h("p", { class: "form-message", role: "alert" });
    /** @type {(HTMLElement | null)[]} */
    const parts = [];
    const v = view;
    if (officer.cosigned) {
      parts.push(h("p", { class: "form-message success", "data-cosigned": "true" }, tx("minutes.you_cosigned", { time: formatTime(officer.cosigned_at) })));
    } else if (v.state !== "closed") {
      parts.push(h("p", { class: "form-message info" }, tx("minutes.cosign_after_close")));
    } else if (!v.sealed) {
      const lang = docLang();
      const missing = v.officers.filter((o) => !o.key);
      const seal = /** @type {HTMLButtonElement} */ (h("button", { type: "button", class: "btn btn-primary", "data-action": "seal" }, tx("minutes.seal_now", { lang: lang.toUpperCase() })));
      seal.addEventListener("click", async () => {
        seal.disabled = true;
        try {
          view = await minutesApi.seal(meetingId, lang);
          render();
        } catch (err) {
          seal.disabled = false;
          msg.className = "form-message error";
          msg.textContent = errorMessage(err, "minutes");
        }
      });
      parts.push(h("p", {}, tx("minutes.seal_explain", { lang: lang.toUpperCase() })),
        missing.length ? h("p", { class: "form-message warning seal-warning" }, tx("minutes.seal_missing_keys", { names: missing.map((o) => o.full_name).join(", ") })) : null,
        msg, seal);
    } else if (v.checkpoint) {
      const cp = v.checkpoint;
      const here = keyState?.where === "here" ? keyState.local : null;
      const reviewed = /** @type {HTMLInputElement} */ (h("input", { type: "checkbox", id: "reviewed" }));
      const submit = /** @type {HTMLButtonElement} */ (h("button", { type: "submit", class: "btn btn-primary", "data-action": "cosign", disabled: !here }, tx("minutes.cosign")));
      parts.push(
        h("p", {}, tx("minutes.cosign_explain_sealed", { lang: v.sealed.lang.toUpperCase() })),
        h("p", { class: "hint what-you-sign" }, tx("minutes.what_you_sign", { size: cp.size }), " ", h("code", { class: "hash", title: cp.root_hash }, cp.root_hash.slice(0, 16) + "…")),
        here ? null : h("p", { class: "form-message info" }, tx("minutes.key_not_here")),
        h("form", { class: "cosign-form", onsubmit: async (/** @type {Event} */ e) => {
          e.preventDefault();
          msg.className = "form-message error";
          if (!reviewed.checked) { msg.textContent = t("minutes.review_first"); reviewed.focus(); return; }
          if (!here) return;
          submit.disabled = true;
          try {
            const fresh = await minutesApi.view(meetingId); // sign exactly what the server holds now
            if (!fresh.checkpoint || fresh.checkpoint.text !== cp.text) { view = fresh; render(); return; }
            // what is signed is the text: it must be this meeting's log, of the size and root shown
            if (!checkpointMatches(cp.text, meetingId, cp.size, cp.root_hash)) {
              msg.textContent = t("minutes.checkpoint_mismatch");
              return;
            }
            const line = await cosignLine(here.key, cp.text);
            const res = await minutesApi.cosign(meetingId, line);
            view = res.minutes;
            render();
          } catch (err) {
            submit.disabled = false;
            msg.textContent = keyErrorMessage(err);
          }
        } },
        h("label", { class: "check", for: "reviewed" }, reviewed, tx("minutes.reviewed")),
        msg, submit),
        pasteLineForm());
    }
    replaceChildren(mineTitle, tx("minutes.my_part", { role: t(`role.${officer.role}`) }));
    replaceChildren(mineRest, ...parts);
  }

  /** For an officer who cosigned offline (`meetingd cosign`): paste the signature line. */
  function pasteLineForm() {
    const msg = h("p", { class: "form-message", role: "alert" });
    const line = /** @type {HTMLTextAreaElement} */ (h("textarea", { id: "cosign-line", rows: 3, spellcheck: "false", placeholder: "— …" }));
    const submit = /** @type {HTMLButtonElement} */ (h("button", { type: "submit", class: "btn", "data-action": "post-line" }, tx("minutes.post_line")));
    return h("details", { class: "cosign-offline" }, h("summary", {}, tx("minutes.offline_title")),
      h("p", { class: "hint" }, tx("minutes.offline_explain")),
      h("form", { onsubmit: async (/** @type {Event} */ e) => {
        e.preventDefault();
        submit.disabled = true;
        try {
          view = (await minutesApi.cosign(meetingId, line.value.trim() + "\n")).minutes;
          render();
        } catch (err) {
          submit.disabled = false;
          msg.className = "form-message error";
          msg.textContent = keyErrorMessage(err);
        }
      } }, h("div", { class: "field" }, h("label", { for: "cosign-line" }, tx("minutes.signature_line")), line), msg, submit));
  }

  function render() {
    renderStatus();
    renderMine();
    renderDoc();
  }

  async function reload() {
    const v = await minutesApi.view(meetingId);
    if (!alive) return;
    view = v;
    render();
  }

  Promise.all([
    minutesApi.view(meetingId),
    api.meeting(meetingId).catch(() => null),
  ]).then(
    ([v, m]) => {
      if (!alive) return;
      view = v;
      meeting = m;
      if (m) ctx.setTitle("minutes.title_of", { title: m.title });
      render();
    },
    fail,
  );
  const offLang = onLanguageChange(() => render());
  return () => {
    alive = false;
    offLang();
  };
}
