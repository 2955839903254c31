// @ts-check
/**
 * A member's e-profile (#/profile/<member_id>): positions, training, rewards, discipline,
 * transfers and status, the attributed history of every change, who read it, the
 * attendance timeline (chart + table), and the form to record a change or a correction.
 * @module profile
 */
import { request, ApiError } from "./protocol.js";
import { tx, t, formatTime, onLanguageChange } from "./i18n.js";
import { h, replaceChildren } from "./dom.js";
import { errorMessage } from "./errors.js";
import { dataTable, timelineChart } from "./charts.js";

/** The fields of each kind of change, in form order (docs/protocol.md). */
const FIELDS = /** @type {Record<string, string[]>} */ ({
  position: ["title", "unit", "from", "to"],
  training: ["course", "from", "to", "result"],
  reward: ["title", "date"],
  discipline: ["measure", "date"],
  transfer: ["cell", "date"],
  status: ["status", "date"],
});
const DATES = new Set(["from", "to", "date"]);

/**
 * @param {HTMLElement} root
 * @param {import("./app.js").AppContext} ctx
 * @param {string} memberId
 */
export function mountProfile(root, ctx, memberId) {
  ctx.setTitle("profile.title");
  const message = h("div", { class: "form-message", role: "alert" });
  const heading = h("h1", {}, tx("profile.title"));
  const body = h("div", { "aria-live": "polite", "aria-busy": "true" }, h("p", { class: "loading" }, tx("app.loading")));
  root.append(h("section", { class: "page committee profile" }, h("div", { class: "page-head" }, heading), message, body));
  let alive = true;
  /** @type {any} */
  let view = null;
  /** @type {(() => void) | null} */
  let disposeChart = null;

  async function load() {
    try {
      view = await request("GET", `/api/profiles/${encodeURIComponent(memberId)}`);
      if (!alive) return;
      render();
    } catch (err) {
      if (!alive) return;
      if (err instanceof ApiError && err.code === "not_authenticated") return ctx.sessionExpired();
      body.removeAttribute("aria-busy");
      replaceChildren(body);
      message.className = "form-message error";
      message.textContent = errorMessage(err, "profile");
    }
  }

  function render() {
    if (!view) return;
    disposeChart?.();
    const m = view.member;
    const p = view.profile;
    // the member id never breaks at its dashes ("K-SYN-003-" / "007" on a phone)
    replaceChildren(heading, `${m.full_name} `, h("span", { class: "member-id" }, `(${m.member_id})`));
    ctx.setTitle("profile.page_title", { name: m.full_name });
    const timeline = view.timeline;
    const chart = timelineChart(t("profile.timeline"), timeline, dataTable(t("profile.timeline_table"), [
      { label: t("profile.date"), value: (r) => String(r.opened_at).slice(0, 10) },
      { label: t("profile.cell"), value: (r) => r.cell },
      { label: t("profile.attendance"), value: (r) => t(`profile.mode.${r.attendance}`) },
      { label: t("profile.speeches"), value: (r) => r.speeches },
      { label: t("profile.voted"), value: (r) => `${r.voted} / ${r.polls}` },
    ], timeline));
    const attended = timeline.filter((/** @type {any} */ r) => r.attendance !== "absent" && r.attendance !== "excused").length;
    replaceChildren(body,
      h("p", { class: "profile-meta" }, tx("profile.cell_status", { cell: m.cell, status: t(`profile.status.${m.status}`) })),
      h("section", { class: "panel" }, h("h2", {}, tx("profile.participation")),
        timeline.length ? [h("p", {}, tx("profile.attended_of", { attended, total: timeline.length })), chart.element]
          : h("p", { class: "muted" }, tx("profile.no_meetings"))),
      Object.keys(FIELDS).map((kind) => section(kind, p[kind])),
      h("section", { class: "panel" }, h("h2", {}, tx("profile.history")),
        p.history.length ? h("ol", { class: "history" }, p.history.map((/** @type {any} */ e) => h("li", {},
          h("strong", {}, `#${e.seq} ${t(`profile.kind.${e.kind}`)}`), " · ",
          tx("profile.by_at", { by: e.by, at: formatTime(e.at) }), h("br"),
          h("span", {}, describe(e.data)), h("br"),
          h("span", { class: "muted" }, tx("profile.reason_was", { reason: e.reason })))))
          : h("p", { class: "muted" }, tx("profile.no_history"))),
      view.reads.length ? h("section", { class: "panel" }, h("h2", {}, tx("profile.reads", { count: view.reads_total })),
        h("ul", {}, view.reads.map((/** @type {any} */ r) => h("li", {}, tx("profile.by_at", { by: r.by, at: formatTime(r.at) })))))
        : view.reads_total ? h("p", { class: "muted" }, tx("profile.reads", { count: view.reads_total })) : null,
      view.editable.length ? changeForm() : null);
    body.removeAttribute("aria-busy");
    disposeChart = timeline.length ? chart.start() : null;
  }

  /**
   * @param {string} kind
   * @param {any[]} records
   */
  function section(kind, records) {
    if (!records.length) return null;
    return h("section", { class: "panel", "data-section": kind }, h("h2", {}, tx(`profile.section.${kind}`)),
      h("ul", { class: "records" }, records.map((r) => h("li", {}, describe(r, FIELDS[kind]),
        r.corrected_by.length ? h("span", { class: "muted" }, ` · ${t("profile.corrected")}`) : null))));
  }

  /**
   * @param {Record<string, any>} data
   * @param {string[]} [fields]
   */
  function describe(data, fields) {
    const names = fields ?? Object.keys(data);
    return names.filter((f) => data[f] !== undefined && data[f] !== "")
      .map((f) => `${t(`profile.field.${f}`)}: ${f === "status" ? t(`profile.status.${data[f]}`) : data[f]}`).join(" · ");
  }

  function changeForm() {
    const recorded = Object.keys(FIELDS).some((k) => view.profile[k].length);
    const kinds = recorded ? [...view.editable, "correction"] : [...view.editable];
    const kind = /** @type {HTMLSelectElement} */ (h("select", { id: "change-kind" },
      kinds.map((k) => h("option", { value: k }, t(`profile.kind.${k}`)))));
    const fields = h("div", { class: "change-fields" });
    const reason = /** @type {HTMLTextAreaElement} */ (h("textarea", { id: "change-reason", rows: 2, required: true }));
    const formMessage = h("div", { class: "form-message", role: "alert" });
    const button = /** @type {HTMLButtonElement} */ (h("button", { type: "submit", class: "btn btn-primary" }, tx("profile.record")));
    /** @type {Record<string, HTMLInputElement>} */
    let inputs = {};
    /** @type {HTMLSelectElement | null} */
    let corrects = null;
    /** @type {HTMLInputElement | null} */
    let retract = null;

    function fieldsFor() {
      inputs = {};
      corrects = retract = null;
      /** @type {string[]} */
      let names = FIELDS[kind.value] ?? [];
      if (kind.value === "correction") {
        const all = Object.keys(FIELDS).flatMap((k) => view.profile[k]);
        corrects = /** @type {HTMLSelectElement} */ (h("select", { id: "change-corrects", onchange: fieldsFor2 },
          all.map((/** @type {any} */ r) => h("option", { value: r.seq }, `#${r.seq} ${t(`profile.kind.${r.kind}`)}: ${describe(r, FIELDS[r.kind])}`))));
        retract = /** @type {HTMLInputElement} */ (h("input", { type: "checkbox", id: "change-retract" }));
        replaceChildren(fields, h("label", { for: "change-corrects" }, tx("profile.corrects")), corrects,
          h("label", { class: "check" }, retract, " ", tx("profile.retract")), h("div", { class: "correct-fields" }));
        fieldsFor2();
        return;
      }
      replaceChildren(fields, names.map((n) => inputFor(n)));
    }

    function fieldsFor2() {
      if (!corrects) return;
      const all = Object.keys(FIELDS).flatMap((k) => view.profile[k]);
      const rec = all.find((/** @type {any} */ r) => String(r.seq) === corrects?.value);
      inputs = {};
      const box = /** @type {HTMLElement} */ (fields.querySelector(".correct-fields"));
      replaceChildren(box, rec ? FIELDS[rec.kind].filter((f) => !(rec.kind === "transfer" && f === "cell") && f !== "status").map((f) => inputFor(f, rec[f])) : []);
    }

    /**
     * @param {string} name
     * @param {string} [value]
     */
    function inputFor(name, value = "") {
      const input = /** @type {HTMLInputElement} */ (name === "status"
        ? h("select", { id: `change-${name}` }, ["active", "suspended", "left"].map((s) => h("option", { value: s }, t(`profile.status.${s}`))))
        : h("input", { id: `change-${name}`, type: DATES.has(name) ? "date" : "text", value }));
      inputs[name] = input;
      return h("div", { class: "field" }, h("label", { for: `change-${name}` }, tx(`profile.field.${name}`)), input);
    }

    kind.addEventListener("change", fieldsFor);
    fieldsFor();
    return h("form", { class: "panel change-form", onsubmit: async (/** @type {Event} */ e) => {
      e.preventDefault();
      /** @type {Record<string, any>} */
      const data = {};
      if (kind.value === "correction" && corrects) {
        data.corrects = Number(corrects.value);
        if (retract?.checked) data.retract = true;
        else for (const [k, input] of Object.entries(inputs)) data[k] = input.value;
      } else {
        for (const [k, input] of Object.entries(inputs)) data[k] = input.value;
      }
      button.disabled = true;
      formMessage.className = "form-message";
      formMessage.textContent = "";
      try {
        await request("POST", `/api/profiles/${encodeURIComponent(memberId)}/changes`, { kind: kind.value, data, reason: reason.value });
        await load();
      } catch (err) {
        if (err instanceof ApiError && err.code === "not_authenticated") return ctx.sessionExpired();
        formMessage.className = "form-message error";
        formMessage.textContent = errorMessage(err, "profile");
        button.disabled = false;
      }
    } },
    h("h2", {}, tx("profile.change_title")),
    h("label", { for: "change-kind" }, tx("profile.kind_label")), kind, fields,
    h("label", { for: "change-reason" }, tx("profile.reason")), reason,
    formMessage, h("div", { class: "actions" }, button));
  }

  load();
  const off = onLanguageChange(() => render());
  return () => {
    alive = false;
    disposeChart?.();
    if (typeof off === "function") off();
  };
}
