// @ts-check
/**
 * A few inline SVG icons for the media controls and tiles (no icon font, no emoji:
 * the room's computers may have neither). Always paired with a text label.
 * @module icons
 */

const SVG = "http://www.w3.org/2000/svg";

/** 24×24 path data */
const PATHS = {
  mic: "M12 14a3 3 0 0 0 3-3V5a3 3 0 0 0-6 0v6a3 3 0 0 0 3 3zm5-3a5 5 0 0 1-10 0H5a7 7 0 0 0 6 6.9V21h2v-3.1A7 7 0 0 0 19 11h-2z",
  camera: "M17 10.5V7a1 1 0 0 0-1-1H4a1 1 0 0 0-1 1v10a1 1 0 0 0 1 1h12a1 1 0 0 0 1-1v-3.5l4 4v-11l-4 4z",
  hand: "M21 7a1.5 1.5 0 0 0-3 0v5h-1V4a1.5 1.5 0 0 0-3 0v7h-1V3a1.5 1.5 0 0 0-3 0v8H9V5.5a1.5 1.5 0 0 0-3 0V15l-2.3-2.3a1.4 1.4 0 0 0-2 2L7 20a6 6 0 0 0 4.5 2H14a7 7 0 0 0 7-7z",
  grid: "M3 3h8v8H3zm10 0h8v8h-8zM3 13h8v8H3zm10 0h8v8h-8z",
  stage: "M3 4h18v11H3zM3 17h5v3H3zm6.5 0h5v3h-5zm6.5 0h5v3h-5z",
  screen: "M3 4h18a1 1 0 0 1 1 1v11a1 1 0 0 1-1 1h-7v2h3v2H7v-2h3v-2H3a1 1 0 0 1-1-1V5a1 1 0 0 1 1-1zm1 2v9h16V6zm8 1l4 4h-3v3h-2v-3H8z",
  more: "M5 10a2 2 0 1 0 0 4 2 2 0 0 0 0-4zm7 0a2 2 0 1 0 0 4 2 2 0 0 0 0-4zm7 0a2 2 0 1 0 0 4 2 2 0 0 0 0-4z",
  speaker: "M3 9v6h4l5 5V4L7 9H3zm13.5 3A4.5 4.5 0 0 0 14 8v8a4.5 4.5 0 0 0 2.5-4z",
};

/**
 * @param {keyof typeof PATHS} name
 * @param {{off?: boolean}} [options] off: draw a slash across
 * @returns {SVGSVGElement}
 */
export function icon(name, { off = false } = {}) {
  const svg = /** @type {SVGSVGElement} */ (document.createElementNS(SVG, "svg"));
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("aria-hidden", "true");
  svg.setAttribute("focusable", "false");
  svg.setAttribute("class", `icon icon-${name}`);
  const path = document.createElementNS(SVG, "path");
  path.setAttribute("d", PATHS[name]);
  path.setAttribute("fill", "currentColor");
  svg.append(path);
  if (off) {
    const slash = document.createElementNS(SVG, "path");
    slash.setAttribute("d", "M3 3l18 18");
    slash.setAttribute("stroke", "currentColor");
    slash.setAttribute("stroke-width", "2.5");
    slash.setAttribute("stroke-linecap", "round");
    svg.append(slash);
  }
  return svg;
}
