// @ts-check
/**
 * Charts for the committee pages, drawn with uPlot (served by meetingd from the npm
 * lockfile at /vendor/uplot.esm.js). Every chart comes with an accessible table beside
 * it holding the same numbers: the canvas is marked `aria-hidden`, the table is the
 * text alternative. Charts follow their container's width (usable at 390 px).
 * @module charts
 */
import uPlot from "/vendor/uplot.esm.js";
import { h } from "./dom.js";

const BLUE = "#1f5fbf";
const GREY = "#8a96a3";
const PALETTE = ["#1f5fbf", "#b42318", "#17663a", "#8a5200", "#6b3fa0"];

/**
 * @typedef {object} Column
 * @property {string} label
 * @property {(row: any) => string | number} value
 */

/**
 * A table of rows (the text alternative of a chart).
 * @param {string} caption
 * @param {Column[]} columns
 * @param {any[]} rows
 * @returns {HTMLElement}
 */
export function dataTable(caption, columns, rows) {
  // On a narrow screen (committee.css) each row becomes a card of "label value" lines, so
  // no column is cut off whatever the language's header lengths; the explicit roles keep
  // it a table for assistive technology when its display is no longer one.
  return h("div", { class: "table-wrap" },
    h("table", { class: "figures", role: "table" },
      h("caption", {}, caption),
      h("thead", { role: "rowgroup" }, h("tr", { role: "row" }, columns.map((c) => h("th", { scope: "col", role: "columnheader" }, c.label)))),
      h("tbody", { role: "rowgroup" }, rows.map((r) => h("tr", { role: "row" }, columns.map((c, i) =>
        i === 0 ? h("th", { scope: "row", role: "rowheader" }, r.__link ? h("a", { href: r.__link }, String(c.value(r))) : String(c.value(r)))
          : h("td", { role: "cell", "data-label": c.label }, String(c.value(r))))))),
    ),
  );
}

/** @param {number} x a rate 0..1 */
export function pct(x) {
  return `${(100 * x).toFixed(1)}%`;
}

/**
 * Mount a uPlot chart in `box`, sized to the box and resized with it.
 * @param {HTMLElement} box
 * @param {(width: number) => uPlot.Options} options
 * @param {uPlot.AlignedData} data
 * @returns {() => void} dispose
 */
function mount(box, options, data) {
  const width = () => Math.max(240, Math.floor(box.clientWidth || 320));
  const chart = new uPlot(options(width()), data, box);
  const observer = new ResizeObserver(() => chart.setSize({ width: width(), height: chart.height }));
  observer.observe(box);
  return () => {
    observer.disconnect();
    chart.destroy();
  };
}

/**
 * A figure: title, chart (hidden from assistive technology) and the table beside it.
 * @param {string} title
 * @param {HTMLElement} table
 * @returns {{figure: HTMLElement, box: HTMLElement}}
 */
function figure(title, table) {
  const box = h("div", { class: "chart", "aria-hidden": "true" });
  // the section's heading shows the title; the caption names the figure for assistive technology
  const figureEl = h("figure", { class: "chart-figure" },
    h("figcaption", { class: "visually-hidden" }, title), box, table);
  return { figure: figureEl, box };
}

/**
 * Lines over months (x = month labels), values are rates 0..1.
 * @param {string} title
 * @param {string[]} months "YYYY-MM"
 * @param {{label: string, values: (number | null)[]}[]} series
 * @param {HTMLElement} table
 * @param {string} xLabel the name of the x axis (shown in the legend)
 * @returns {{element: HTMLElement, start: () => () => void}}
 */
export function trendChart(title, months, series, table, xLabel) {
  const { figure: el, box } = figure(title, table);
  const xs = months.map((_, i) => i);
  return {
    element: el,
    start: () => mount(box, (width) => ({
      width, height: 220,
      legend: { show: series.length > 1 },
      cursor: { drag: { x: false, y: false } },
      scales: { x: { time: false, range: [-0.3, Math.max(months.length - 0.7, 0.7)] }, y: { range: [0, 1] } },
      axes: [
        { values: (_u, splits) => splits.map((i) => (Number.isInteger(i) ? (months[i] ?? "").slice(2) : "")) },
        { values: (_u, splits) => splits.map((v) => `${Math.round(v * 100)}%`), size: 48 },
      ],
      series: [{ label: xLabel, value: (/** @type {any} */ _u, /** @type {number | null} */ v) => (v == null ? "–" : (months[v] ?? "")) },
        ...series.map((s, i) => ({
        label: s.label, stroke: PALETTE[i % PALETTE.length], width: 2,
        points: { show: true, size: 6 }, value: (/** @type {any} */ _u, /** @type {number | null} */ v) => (v == null ? "–" : pct(v)),
      }))],
    }), [xs, ...series.map((s) => s.values)]),
  };
}

/**
 * Bars, one per label (e.g. the committee's cells), values are rates 0..1.
 * @param {string} title
 * @param {string[]} labels
 * @param {number[]} values
 * @param {HTMLElement} table
 */
export function barChart(title, labels, values, table) {
  const { figure: el, box } = figure(title, table);
  const xs = labels.map((_, i) => i);
  const every = Math.max(1, Math.ceil(labels.length / 8));
  return {
    element: el,
    start: () => mount(box, (width) => ({
      width, height: 220,
      legend: { show: false },
      cursor: { drag: { x: false, y: false } },
      scales: { x: { time: false, range: [-0.6, labels.length - 0.4] }, y: { range: [0, 1] } },
      axes: [
        { values: (_u, splits) => splits.map((i) => (Number.isInteger(i) && i % every === 0 ? shorten(labels[i] ?? "") : "")) },
        { values: (_u, splits) => splits.map((v) => `${Math.round(v * 100)}%`), size: 48 },
      ],
      series: [{}, { label: title, fill: BLUE, stroke: BLUE, paths: uPlot.paths.bars?.({ size: [0.7, 40] }), points: { show: false } }],
    }), [xs, values]),
  };
}

/**
 * A member's attendance, one bar per meeting: full height attended (coloured by mode),
 * a low grey bar absent or excused.
 * @param {string} title
 * @param {{opened_at: string, attendance: string}[]} meetings
 * @param {HTMLElement} table
 */
export function timelineChart(title, meetings, table) {
  const { figure: el, box } = figure(title, table);
  const xs = meetings.map((_, i) => i);
  const attended = meetings.map((m) => (m.attendance === "absent" || m.attendance === "excused" ? null : 1));
  const missed = meetings.map((m) => (m.attendance === "absent" || m.attendance === "excused" ? 0.15 : null));
  const bars = uPlot.paths.bars?.({ size: [0.7, 30] });
  return {
    element: el,
    start: () => mount(box, (width) => ({
      width, height: 140,
      legend: { show: false },
      cursor: { drag: { x: false, y: false } },
      scales: { x: { time: false, range: [-0.6, Math.max(meetings.length - 0.4, 0.4)] }, y: { range: [0, 1] } },
      axes: [
        { values: (_u, splits) => splits.map((i) => (Number.isInteger(i) ? (meetings[i]?.opened_at ?? "").slice(2, 7) : "")) },
        { show: false },
      ],
      series: [{}, { fill: BLUE, stroke: BLUE, paths: bars, points: { show: false } },
        { fill: GREY, stroke: GREY, paths: bars, points: { show: false } }],
    }), [xs, attended, missed]),
  };
}

/** @param {string} label */
function shorten(label) {
  return label.length > 14 ? `${label.slice(0, 13)}…` : label;
}
