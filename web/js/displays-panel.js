// @ts-check
/**
 * The officers' "Main-room display" panel (Chair tab): pair a projector with a
 * one-time code, see the paired displays, revoke one. A display is not a person: it is
 * never in the roster or the quorum.
 * @module displays-panel
 */
import { api } from "./protocol.js";
import { tx, t, formatTime } from "./i18n.js";
import { h, replaceChildren } from "./dom.js";
import { runAction } from "./errors.js";

/** @typedef {import("./protocol.js").Display} Display */

/** @param {number} meetingId */
export function createDisplaysPanel(meetingId) {
  const message = h("p", { class: "form-message", role: "alert" });
  const codeBox = h("div", { class: "display-code", hidden: true, "aria-live": "polite" });
  const list = h("ul", { class: "display-list" });
  const create = /** @type {HTMLButtonElement} */ (h("button", { type: "button", class: "btn btn-primary", "data-action": "create-display" }, tx("displays.create")));
  const element = h("section", { class: "panel proc-panel displays-panel", "aria-labelledby": "displays-title" },
    h("h2", { id: "displays-title" }, tx("displays.title")),
    h("p", { class: "hint" }, tx("displays.hint")),
    h("div", { class: "actions" }, create), codeBox, message, list);

  /** @param {Display} d */
  function showCode(d) {
    const url = `${location.origin}/#/pair`;
    codeBox.hidden = false;
    replaceChildren(codeBox,
      h("p", {}, tx("displays.code", { url })),
      h("strong", { class: "display-code-value", "data-code": d.code ?? "" }, d.code ?? ""),
      h("p", { class: "hint" }, tx("displays.code_expires", { time: formatTime(d.code_expires_at, { timeStyle: "short" }) })),
      // the same one-time code as a QR (drawn by the server): it opens #/pair/<code>
      d.qr ? h("p", { class: "display-scan" }, tx("displays.scan")) : null,
      d.qr ? h("img", { class: "display-qr", src: d.qr, alt: t("displays.qr_alt"), "data-i18n-alt": "displays.qr_alt", "data-pair-url": d.pair_url ?? "", width: "198", height: "198" }) : null);
  }

  async function load() {
    try {
      render(await api.displays(meetingId));
    } catch {
      // not an officer any more, or offline: the panel stays as it was
    }
  }

  /** @param {Display[]} rows */
  function render(rows) {
    if (!rows.length) {
      replaceChildren(list, h("li", { class: "empty hint" }, tx("displays.none")));
      return;
    }
    replaceChildren(list, rows.map((d) => {
      const revoke = /** @type {HTMLButtonElement} */ (h("button", { type: "button", class: "btn btn-small btn-danger", "data-action": "revoke-display" }, tx("displays.revoke")));
      revoke.addEventListener("click", async () => {
        if (await runAction(() => api.revokeDisplay(meetingId, d.id), revoke, message, "displays")) {
          codeBox.hidden = true;
          load();
        }
      });
      return h("li", { class: "display-row", "data-display-id": d.id, "data-state": d.state },
        h("span", {}, d.state === "paired"
          ? tx("displays.paired", { id: d.id, time: formatTime(d.paired_at ?? d.created_at, { timeStyle: "short" }) })
          : tx("displays.waiting", { id: d.id })),
        revoke);
    }));
  }

  create.addEventListener("click", async () => {
    await runAction(async () => {
      const d = await api.createDisplay(meetingId);
      showCode(d);
      await load();
    }, create, message, "displays");
    create.disabled = false;
  });
  load();
  const timer = setInterval(load, 5000);
  return {
    element,
    refresh: load,
    destroy() {
      clearInterval(timer);
    },
  };
}

