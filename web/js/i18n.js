// @ts-check
/**
 * Translations: one JSON catalog per language under /i18n/<lang>.json.
 *
 * Strings are looked up by key (`"login.title"`); `{name}` placeholders are filled
 * from the variables. Elements built with {@link tx} or carrying `data-i18n*`
 * attributes are re-translated in place when the language changes, so forms keep
 * what the user typed.
 * @module i18n
 */

/** @typedef {"en" | "vi"} Language */

/** @type {readonly Language[]} */
export const LANGUAGES = ["en", "vi"];
const STORAGE_KEY = "meetingd.language";

/** @type {Record<string, Record<string, string>>} */
const catalogs = {};
/** @type {Language} */
let current = "en";
const listeners = new Set();

/**
 * @param {unknown} value
 * @returns {value is Language}
 */
export function isLanguage(value) {
  return typeof value === "string" && /** @type {readonly string[]} */ (LANGUAGES).includes(value);
}

/** @returns {Language} the language saved on this device, else the browser's. */
export function initialLanguage() {
  let saved = null;
  try {
    saved = localStorage.getItem(STORAGE_KEY);
  } catch {
    // storage disabled: fall through
  }
  if (isLanguage(saved)) return saved;
  const browser = (navigator.language || "en").toLowerCase();
  return browser.startsWith("vi") ? "vi" : "en";
}

/** @returns {boolean} whether a language was chosen (and saved) on this device */
export function hasSavedLanguage() {
  try {
    return isLanguage(localStorage.getItem(STORAGE_KEY));
  } catch {
    return false;
  }
}

/** @param {Language} lang */
async function loadCatalog(lang) {
  if (catalogs[lang]) return;
  const res = await fetch(`/i18n/${lang}.json`, { credentials: "same-origin" });
  if (!res.ok) throw new Error(`cannot load catalog ${lang}: HTTP ${res.status}`);
  catalogs[lang] = await res.json();
}

/**
 * Switch language, translate the document and notify listeners.
 * @param {Language} lang
 * @param {{remember?: boolean}} [options] save the choice on this device
 */
export async function setLanguage(lang, { remember = true } = {}) {
  await loadCatalog(lang);
  if (lang !== "en") await loadCatalog("en").catch(() => undefined); // fallback strings
  current = lang;
  if (remember) {
    try {
      localStorage.setItem(STORAGE_KEY, lang);
    } catch {
      // storage disabled: the choice lasts for this page only
    }
  }
  document.documentElement.lang = lang;
  translateTree(document.body);
  for (const fn of listeners) fn(lang);
}

/** @returns {Language} */
export function language() {
  return current;
}

/**
 * Call `fn` after every language change. Returns an unsubscribe function.
 * @param {(lang: Language) => void} fn
 */
export function onLanguageChange(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

/**
 * Translate `key`, filling `{placeholders}` from `vars`. A `count` variable selects
 * `key.one` / `key.other` when the catalog has them.
 * @param {string} key
 * @param {Record<string, string | number>} [vars]
 * @returns {string}
 */
export function t(key, vars = {}) {
  const cat = catalogs[current] || {};
  const fallback = catalogs.en || {};
  let text;
  if (typeof vars.count === "number") {
    const form = new Intl.PluralRules(current).select(vars.count);
    text = cat[`${key}.${form}`] ?? cat[`${key}.other`] ?? fallback[`${key}.${form}`] ?? fallback[`${key}.other`];
  }
  text = text ?? cat[key] ?? fallback[key];
  if (text === undefined) {
    console.warn("i18n: missing key", key);
    return key;
  }
  return text.replace(/\{(\w+)\}/g, (whole, name) => (name in vars ? String(vars[name]) : whole));
}

/**
 * A span whose text is the translation of `key`; it follows language changes.
 * @param {string} key
 * @param {Record<string, string | number>} [vars]
 * @returns {HTMLSpanElement}
 */
export function tx(key, vars) {
  const span = document.createElement("span");
  span.dataset.i18n = key;
  if (vars) span.dataset.i18nVars = JSON.stringify(vars);
  span.textContent = t(key, vars);
  return span;
}

const ATTRS = /** @type {const} */ (["placeholder", "aria-label", "title", "alt"]);

/**
 * Re-translate every element under `root` that carries `data-i18n` (text),
 * `data-i18n-placeholder`, `data-i18n-aria-label`, `data-i18n-title` or `data-i18n-alt`.
 * @param {ParentNode} root
 */
export function translateTree(root) {
  for (const el of root.querySelectorAll("[data-i18n]")) {
    const h = /** @type {HTMLElement} */ (el);
    const vars = h.dataset.i18nVars ? JSON.parse(h.dataset.i18nVars) : undefined;
    h.textContent = t(/** @type {string} */ (h.dataset.i18n), vars);
  }
  for (const attr of ATTRS) {
    for (const el of root.querySelectorAll(`[data-i18n-${attr}]`)) {
      el.setAttribute(attr, t(/** @type {string} */ (el.getAttribute(`data-i18n-${attr}`))));
    }
  }
}

/**
 * Format an ISO-8601 time for the current language.
 * @param {string | null | undefined} iso
 * @param {Intl.DateTimeFormatOptions} [options]
 */
export function formatTime(iso, options = { dateStyle: "medium", timeStyle: "short" }) {
  if (!iso) return "";
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  return new Intl.DateTimeFormat(current === "vi" ? "vi-VN" : "en-GB", options).format(date);
}
