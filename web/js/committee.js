// @ts-check
/**
 * The committee's view: the organisation tree (#/org, with the admin's CSV import) and
 * a committee's participation page (#/committee/<id>): totals, trend lines per cell,
 * bars across cells, flags, each chart with its table, and the report downloads.
 * @module committee
 */
import { request, ApiError } from "./protocol.js";
import { tx, t, language, onLanguageChange } from "./i18n.js";
import { h, replaceChildren } from "./dom.js";
import { errorMessage } from "./errors.js";
import { barChart, dataTable, pct, trendChart } from "./charts.js";
import { cellEditor, committeeEditor, topEditor } from "./org-edit.js";

/**
 * @typedef {{id: number, name: string, sites: string[], site_ids: number[]}} CellNode
 * @typedef {{id: number, code: string, name: string, committees: CommitteeNode[], cells: CellNode[]}} CommitteeNode
 * @typedef {{month: string, held: number, entitled: number, attended: number, attendance_rate: number}} Month
 * @typedef {{cell: string, held: number, scheduled: number, entitled: number, attended: number,
 *   attendance_rate: number, quorate: number, without_quorum: number, speeches: number, polls: number,
 *   turnout: number, months: Month[]}} CellFigures
 */

/**
 * @param {HTMLElement} message
 * @param {unknown} err
 * @param {import("./app.js").AppContext} ctx
 */
function showError(message, err, ctx) {
  if (err instanceof ApiError && err.code === "not_authenticated") return ctx.sessionExpired();
  message.className = "form-message error";
  message.textContent = errorMessage(err, "committee");
}

/** Which unit an editor (a `details.org-edit`) is for, across renders. @param {Element} el */
function editorKey(el) {
  const d = /** @type {HTMLElement} */ (el).dataset;
  return d.editCell !== undefined ? `cell:${d.editCell}` : d.editCommittee !== undefined ? `committee:${d.editCommittee}` : d.editTop !== undefined ? "top" : "";
}

/** @type {import("./app.js").View} */
export function mountOrg(root, ctx) {
  ctx.setTitle("org.title");
  const message = h("div", { class: "form-message", role: "alert" });
  const body = h("div", { "aria-live": "polite" }, h("p", { class: "loading" }, tx("app.loading")));
  const me = ctx.me;
  root.append(h("section", { class: "page committee" },
    h("div", { class: "page-head" }, h("h1", {}, tx("org.title")),
      me ? h("a", { class: "btn", href: `#/profile/${encodeURIComponent(me.member_id)}` }, tx("org.my_profile")) : null),
    message, body,
    me?.is_admin ? importPanel(message, ctx, () => load()) : null));
  let alive = true;

  /**
   * @param {{member_id: string, full_name: string, title: string}[]} officers
   */
  function officerLine(officers) {
    if (!officers.length) return null;
    return h("p", { class: "org-officers" }, tx("org.officers"), " ", officers.flatMap((o, i) => [i ? " · " : null,
      `${o.title}: `, h("a", { href: `#/profile/${encodeURIComponent(o.member_id)}` }, o.full_name)]));
  }

  /**
   * @param {any} data the /api/org answer
   */
  function render(data) {
    /** @type {CommitteeNode[]} */
    const tops = data.tree.committees;
    /** @type {any[]} */
    const comOfficers = data.committee_officers ?? [];
    /** @type {any[]} */
    const cellOfficers = data.cell_officers ?? [];
    /** @type {import("./org-edit.js").CommitteeRef[]} */
    const all = [];
    const walk = (/** @type {CommitteeNode} */ c, /** @type {number | null} */ parent) => {
      all.push({ id: c.id, code: c.code, name: c.name, parent });
      c.committees.forEach((k) => walk(k, c.id));
    };
    tops.forEach((c) => walk(c, null));
    /** @type {import("./org-edit.js").EditContext} */
    const edit = { manage: data.manage, committees: all, changed: async (text) => {
      // said once the tree shows the change (a "done" over the old tree would mislead)
      await load();
      message.className = "form-message ok";
      message.textContent = text;
    } };

    /**
     * @param {CellNode} x
     * @param {number | null} committeeId
     */
    const cellItem = (x, committeeId) => {
      const officers = cellOfficers.filter((o) => o.cell_id === x.id);
      return h("li", { "data-cell": x.name }, h("span", { class: "org-cell-name" }, x.name),
        x.sites.length ? h("span", { class: "muted" }, ` · ${x.sites.join(", ")}`) : null,
        officerLine(officers), cellEditor(x, committeeId, officers, edit));
    };

    /**
     * @param {CommitteeNode} c
     * @returns {HTMLElement}
     */
    const node = (c) => {
      const officers = comOfficers.filter((o) => o.committee_id === c.id);
      return h("li", {},
        h("a", { href: `#/committee/${c.id}`, "data-committee": c.code }, `${c.name} (${c.code})`),
        officerLine(officers), committeeEditor(c, officers, edit),
        c.cells.length ? h("ul", { class: "org-cells" }, c.cells.map((x) => cellItem(x, c.id))) : null,
        c.committees.length ? h("ul", {}, c.committees.map(node)) : null);
    };
    /** @type {CellNode[]} */
    const loose = data.tree.cells;
    // The editors the person had open stay open (and the one they were typing in keeps the
    // focus): a save re-renders the tree, and closing what they work in would send them
    // looking for it again.
    const open = new Set(Array.from(body.querySelectorAll("details.org-edit[open]"), editorKey));
    const focusedId = document.activeElement instanceof HTMLElement && body.contains(document.activeElement) ? document.activeElement.id : "";
    replaceChildren(body, tops.length || loose.length || data.manage.add_top ? [
      topEditor(edit),
      tops.length ? h("ul", { class: "org-tree" }, tops.map(node)) : null,
      loose.length ? h("ul", { class: "org-tree org-cells" }, loose.map((x) => cellItem(x, null))) : null,
    ] : h("p", { class: "muted" }, tx("org.none")));
    for (const details of body.querySelectorAll("details.org-edit")) {
      if (open.has(editorKey(details))) /** @type {HTMLDetailsElement} */ (details).open = true;
    }
    if (focusedId) /** @type {HTMLElement | null} */ (body.querySelector(`#${CSS.escape(focusedId)}`))?.focus();
  }

  async function load() {
    try {
      const data = await request("GET", "/api/org");
      if (!alive) return;
      render(data);
    } catch (err) {
      if (alive) showError(message, err, ctx);
    }
  }
  load();
  return () => { alive = false; };
}

/**
 * @param {HTMLElement} message
 * @param {import("./app.js").AppContext} ctx
 * @param {() => void} done
 */
function importPanel(message, ctx, done) {
  const text = /** @type {HTMLTextAreaElement} */ (h("textarea", { id: "org-csv", rows: 6, spellcheck: "false",
    placeholder: "kind,key,name,parent,title" }));
  const file = /** @type {HTMLInputElement} */ (h("input", { type: "file", accept: ".csv,text/csv", id: "org-file" }));
  const errors = h("ul", { class: "import-errors" });
  file.addEventListener("change", async () => {
    const f = file.files?.[0];
    if (f) text.value = await f.text();
  });
  const button = /** @type {HTMLButtonElement} */ (h("button", { type: "submit", class: "btn btn-primary" }, tx("org.import")));
  const form = h("form", { class: "panel org-import", onsubmit: async (/** @type {Event} */ e) => {
    e.preventDefault();
    button.disabled = true;
    replaceChildren(errors);
    message.className = "form-message";
    message.textContent = "";
    try {
      const r = await request("POST", "/api/admin/org/import", { csv: text.value });
      message.className = "form-message ok";
      message.textContent = t("org.imported", { committees: r.committees, cells: r.cells, sites: r.sites, officers: r.officers });
      done();
    } catch (err) {
      showError(message, err, ctx);
      if (err instanceof ApiError && Array.isArray(err.details.errors)) {
        message.textContent = t("org.import_failed");
        replaceChildren(errors, err.details.errors.map((/** @type {string} */ line) => h("li", {}, line)));
      }
    } finally {
      button.disabled = false;
    }
  } },
  h("h2", {}, tx("org.import_title")),
  h("p", { class: "muted" }, tx("org.import_help")),
  h("label", { for: "org-file" }, tx("org.file")), file,
  h("label", { for: "org-csv" }, tx("org.csv")), text,
  errors, h("div", { class: "actions" }, button));
  return form;
}

/** @param {Date} d */
function day(d) {
  return d.toISOString().slice(0, 10);
}

/**
 * @param {HTMLElement} root
 * @param {import("./app.js").AppContext} ctx
 * @param {number} id
 */
export function mountCommittee(root, ctx, id) {
  ctx.setTitle("committee.title");
  const today = new Date();
  const from = /** @type {HTMLInputElement} */ (h("input", { type: "date", id: "period-from", value: day(new Date(today.getTime() - 365 * 864e5)) }));
  const to = /** @type {HTMLInputElement} */ (h("input", { type: "date", id: "period-to", value: day(today) }));
  const message = h("div", { class: "form-message", role: "alert" });
  const heading = h("h1", {}, tx("committee.title"));
  const body = h("div", { class: "committee-body", "aria-live": "polite", "aria-busy": "true" }, h("p", { class: "loading" }, tx("app.loading")));
  const downloads = h("p", { class: "downloads" });
  root.append(h("section", { class: "page committee" },
    h("div", { class: "page-head" }, heading),
    h("form", { class: "period", onsubmit: (/** @type {Event} */ e) => { e.preventDefault(); load(); } },
      h("label", { for: "period-from" }, tx("committee.from")), from,
      h("label", { for: "period-to" }, tx("committee.to")), to,
      h("button", { type: "submit", class: "btn" }, tx("committee.show"))),
    downloads, message, body));
  let alive = true;
  /** @type {(() => void)[]} */
  let disposers = [];
  /** @type {any} */
  let report = null;
  let chosenCell = "";

  function dispose() {
    for (const d of disposers) d();
    disposers = [];
  }

  async function load() {
    body.setAttribute("aria-busy", "true");
    try {
      const q = `from=${from.value}&to=${to.value}`;
      const data = await request("GET", `/api/committees/${id}/figures?${q}`);
      if (!alive) return;
      report = data.report;
      message.textContent = "";
      message.className = "form-message";
      render();
    } catch (err) {
      if (!alive) return;
      body.removeAttribute("aria-busy");
      replaceChildren(body);
      showError(message, err, ctx);
    }
  }

  function render() {
    if (!report) return;
    dispose();
    const f = report.figures;
    const c = report.committee;
    heading.textContent = `${c.name} (${c.code})`;
    ctx.setTitle("committee.page_title", { name: c.name });
    const q = `from=${f.from}&to=${f.to}&lang=${language()}`;
    replaceChildren(downloads, tx("committee.report"), " ",
      ["pdf", "csv", "html", "json"].flatMap((fmt) => [h("a", { class: "btn btn-quiet", href: `/api/committees/${id}/report.${fmt}?${q}`, download: "" }, fmt.toUpperCase()), " "]));
    /** @type {CellFigures[]} */
    const cells = f.cells;
    const months = [...new Set(cells.flatMap((x) => x.months.map((m) => m.month)))].sort();
    const overall = months.map((m) => {
      let ent = 0, att = 0;
      for (const x of cells) for (const mo of x.months) if (mo.month === m) { ent += mo.entitled; att += mo.attended; }
      return { month: m, entitled: ent, attended: att, rate: ent ? att / ent : 0 };
    });
    if (!chosenCell || !cells.some((x) => x.cell === chosenCell)) {
      chosenCell = [...cells].filter((x) => x.held).sort((a, b) => a.attendance_rate - b.attendance_rate)[0]?.cell ?? "";
    }
    const cellMonths = new Map((cells.find((x) => x.cell === chosenCell)?.months ?? []).map((m) => [m.month, m]));
    const select = /** @type {HTMLSelectElement} */ (h("select", { id: "trend-cell", onchange: () => { chosenCell = select.value; render(); } },
      cells.map((x) => h("option", { value: x.cell, selected: x.cell === chosenCell }, x.cell))));
    select.value = chosenCell;
    const trendRows = months.map((m) => ({ month: m, all: overall.find((o) => o.month === m)?.rate ?? 0,
      cell: cellMonths.get(m) }));
    const trend = trendChart(t("committee.trend"), months, [
      { label: t("committee.all_cells"), values: overall.map((o) => o.rate) },
      { label: chosenCell, values: months.map((m) => cellMonths.get(m)?.attendance_rate ?? null) },
    ], dataTable(t("committee.trend_table"), [
      { label: t("committee.month"), value: (r) => r.month },
      { label: t("committee.all_cells"), value: (r) => pct(r.all) },
      { label: chosenCell, value: (r) => (r.cell ? pct(r.cell.attendance_rate) : "–") },
      { label: t("committee.held_in_cell"), value: (r) => r.cell?.held ?? 0 },
    ], trendRows), t("committee.month"));
    const sorted = [...cells].sort((a, b) => a.attendance_rate - b.attendance_rate || a.cell.localeCompare(b.cell));
    const bars = barChart(t("committee.bars"), sorted.map((x) => x.cell), sorted.map((x) => x.attendance_rate),
      dataTable(t("committee.cells_table"), [
        { label: t("committee.cell"), value: (x) => x.cell },
        { label: t("committee.held"), value: (x) => `${x.held} / ${x.scheduled}` },
        { label: t("committee.attendance"), value: (x) => pct(x.attendance_rate) },
        { label: t("committee.quorate"), value: (x) => `${x.quorate} / ${x.held}` },
        { label: t("committee.speeches"), value: (x) => x.speeches },
        { label: t("committee.turnout"), value: (x) => pct(x.turnout) },
      ], sorted));
    const tot = f.totals;
    const fl = f.flags;
    replaceChildren(body,
      h("div", { class: "totals" },
        stat(t("committee.held"), `${tot.held} / ${tot.scheduled}`),
        stat(t("committee.attendance"), pct(tot.attendance_rate)),
        stat(t("committee.quorate"), `${tot.quorate} / ${tot.held}`),
        stat(t("committee.turnout"), pct(tot.turnout))),
      h("section", { class: "panel" }, h("h2", {}, tx("committee.trend")),
        h("label", { for: "trend-cell" }, tx("committee.cell")), select, trend.element),
      h("section", { class: "panel" }, h("h2", {}, tx("committee.bars")), bars.element),
      h("section", { class: "panel flags" }, h("h2", {}, tx("committee.flags")),
        h("h3", {}, tx("committee.absent_run", { n: f.absent_run })),
        fl.absent_in_a_row.length ? h("ul", {}, fl.absent_in_a_row.slice(0, 100).map((/** @type {any} */ a) =>
          h("li", {}, h("a", { href: `#/profile/${encodeURIComponent(a.member_id)}` }, a.member_id), ` · ${a.cell} · `,
            tx("committee.times", { count: a.run })))) : h("p", { class: "muted" }, tx("committee.none")),
        fl.absent_in_a_row.length > 100 ? h("p", { class: "muted" }, tx("committee.more_in_report", { count: fl.absent_in_a_row.length - 100 })) : null,
        h("h3", {}, tx("committee.no_meeting")),
        fl.cells_without_meetings.length ? h("ul", {}, fl.cells_without_meetings.map((/** @type {string} */ x) => h("li", {}, x)))
          : h("p", { class: "muted" }, tx("committee.none")),
        h("h3", {}, tx("committee.no_quorum")),
        fl.closed_without_quorum.length ? h("ul", {}, fl.closed_without_quorum.slice(0, 100).map((/** @type {any} */ m) =>
          h("li", {}, `${m.cell} · ${String(m.opened_at).slice(0, 10)}`))) : h("p", { class: "muted" }, tx("committee.none"))),
      h("p", { class: "muted" }, tx("committee.source", { count: report.bundles_count ?? report.bundles.length })));
    body.removeAttribute("aria-busy");
    disposers.push(trend.start(), bars.start());
  }

  /**
   * @param {string} label
   * @param {string} value
   */
  function stat(label, value) {
    return h("div", { class: "stat" }, h("span", { class: "stat-value" }, value), h("span", { class: "stat-label" }, label));
  }

  load();
  const off = onLanguageChange(() => render());
  return () => {
    alive = false;
    dispose();
    if (typeof off === "function") off();
  };
}
