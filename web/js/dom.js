// @ts-check
/**
 * Tiny DOM builder shared by the views. No state, no network.
 * @module dom
 */

/**
 * @typedef {string | number | Node | null | undefined | false} Child
 */

/**
 * Create an element. Attributes starting with `on` (e.g. `onclick`) become event
 * listeners; `class`, `for`, `data-*`, `aria-*` are set as attributes; `value`,
 * `checked`, `disabled`, `hidden` are set as properties.
 * @param {string} tag
 * @param {Record<string, any>} [attrs]
 * @param {...(Child | Child[])} children
 * @returns {HTMLElement}
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") {
      el.addEventListener(name.slice(2), value);
    } else if (name === "value" || name === "checked" || name === "disabled" || name === "hidden") {
      /** @type {any} */ (el)[name] = value;
    } else {
      el.setAttribute(name, value === true ? "" : String(value));
    }
  }
  append(el, children);
  return el;
}

/**
 * @param {Element} parent
 * @param {(Child | Child[])[]} children
 */
function append(parent, children) {
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    parent.append(typeof child === "number" ? String(child) : child);
  }
}

/**
 * Replace every child of `el`.
 * @param {Element} el
 * @param {...(Child | Child[])} children
 */
export function replaceChildren(el, ...children) {
  el.replaceChildren();
  append(el, children);
}

/**
 * Find a required element inside `root`.
 * @template {Element} T
 * @param {ParentNode} root
 * @param {string} selector
 * @returns {T}
 */
export function $(root, selector) {
  const el = root.querySelector(selector);
  if (!el) throw new Error(`missing element ${selector}`);
  return /** @type {T} */ (el);
}
