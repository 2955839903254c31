// @ts-check
/**
 * The single-page shell: session, language picker, hash router.
 * Routes: #/login, #/invite/<token>, #/meetings, #/meeting/<id>, #/admin/members,
 * #/security (own second factor and sessions), #/admin/security (alerts, self-check).
 * #/org, #/committee/<id>, #/profile/<member_id>.
 * @module app
 */
import { api, ApiError } from "./protocol.js";
import * as i18n from "./i18n.js";
import { h } from "./dom.js";
import { mountLogin } from "./login.js";
import { mountInvite } from "./invite.js";
import { mountMeetings } from "./meetings.js";
import { mountRoom } from "./room.js";
import { mountDisplay, mountPairForm } from "./display.js";
import { mountAdmin } from "./admin.js";
import { mountMinutes } from "./minutes.js";
import { flagSecurityLink, installStepUp, mountSecurity } from "./security.js";
import { mountSecurityAdmin } from "./security-admin.js";
import { mountOrg, mountCommittee } from "./committee.js";
import { mountProfile } from "./profile.js";

/** @typedef {import("./protocol.js").Me} Me */

/**
 * What every view receives.
 * @typedef {object} AppContext
 * @property {Me | null} me the signed-in member
 * @property {(me: Me) => Promise<void>} signedIn call after a successful sign-in
 * @property {() => void} sessionExpired call when the server answers `not_authenticated`
 * @property {(hash: string) => void} go navigate to a route
 * @property {(key: string, vars?: Record<string, string|number>) => void} setTitle
 */

/** @typedef {(root: HTMLElement, ctx: AppContext) => (void | (() => void))} View */

const NEXT_KEY = "meetingd.next";
const view = /** @type {HTMLElement} */ (document.getElementById("view"));
const languageSelect = /** @type {HTMLSelectElement} */ (document.getElementById("language"));

/** @type {Me | null} */
let me = null;
/** @type {(() => void) | void} */
let unmountCurrent;
/** @type {{key: string, vars?: Record<string, string|number>}} */
let title = { key: "app.name" };

/** @type {AppContext} */
const ctx = {
  get me() {
    return me;
  },
  async signedIn(member) {
    me = member;
    // The language used on this device for signing in wins (the member just read
    // the page in it); otherwise take the one saved for the member.
    if (i18n.hasSavedLanguage() && member.language !== i18n.language()) {
      me = await api.setLanguage(i18n.language()).catch(() => member);
    } else if (i18n.isLanguage(member.language) && member.language !== i18n.language()) {
      await i18n.setLanguage(member.language);
    }
    renderChrome();
    const next = sessionStorage.getItem(NEXT_KEY);
    sessionStorage.removeItem(NEXT_KEY);
    ctx.go(next && next !== "#/login" ? next : "#/meetings");
  },
  sessionExpired() {
    me = null;
    renderChrome();
    rememberNext();
    ctx.go("#/login?expired=1");
  },
  go(hash) {
    if (location.hash === hash) route();
    else location.hash = hash;
  },
  setTitle(key, vars) {
    title = { key, vars };
    applyTitle();
  },
};

function applyTitle() {
  const text = i18n.t(title.key, title.vars);
  document.title = title.key === "app.name" ? text : `${text} · meetingd`;
}

function rememberNext() {
  const hash = location.hash;
  if (hash && !hash.startsWith("#/login") && !hash.startsWith("#/invite")) sessionStorage.setItem(NEXT_KEY, hash);
}

/** Show or hide the parts of the top bar that depend on the session. */
function renderChrome() {
  const nav = /** @type {HTMLElement} */ (document.getElementById("nav"));
  const user = /** @type {HTMLElement} */ (document.getElementById("user"));
  nav.hidden = !me;
  user.hidden = !me;
  const adminLink = /** @type {HTMLElement} */ (nav.querySelector('[data-route="admin"]'));
  adminLink.hidden = !me?.is_admin;
  const securityAdminLink = /** @type {HTMLElement | null} */ (nav.querySelector('[data-route="admin-security"]'));
  if (securityAdminLink) securityAdminLink.hidden = !me?.is_admin;
  if (me) void flagSecurityLink(nav.querySelector('[data-route="security"]'));
  const name = /** @type {HTMLElement} */ (document.getElementById("user-name"));
  name.textContent = me ? me.full_name : "";
  name.title = me ? me.member_id : "";
  languageSelect.value = i18n.language();
}

/** Mark the nav link of the current route. */
function markNav(/** @type {string} */ routeName) {
  for (const a of document.querySelectorAll("#nav a")) {
    if (a.getAttribute("data-route") === routeName) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
}

/**
 * @param {string} key
 * @param {string} [bodyKey]
 */
function messageView(key, bodyKey) {
  /** @type {View} */
  return (root) => {
    ctx.setTitle(key);
    root.append(
      h("section", { class: "panel narrow" },
        h("h1", {}, i18n.tx(key)),
        bodyKey ? h("p", {}, i18n.tx(bodyKey)) : null,
        h("p", {}, h("a", { class: "btn", href: "#/meetings" }, i18n.tx("nav.back_to_meetings"))),
      ),
    );
  };
}

/** @returns {{name: string, view: View, needsSession: boolean}} */
function resolve(/** @type {string} */ hash) {
  const path = hash.replace(/^#/, "").split("?")[0] || "/";
  let m;
  if (path === "/" ) return { name: "home", view: () => ctx.go(me ? "#/meetings" : "#/login"), needsSession: false };
  if (path === "/login") return { name: "login", view: mountLogin, needsSession: false };
  if ((m = path.match(/^\/invite\/([^/]+)$/))) {
    const token = decodeURIComponent(m[1]);
    return { name: "invite", view: (root, c) => mountInvite(root, c, token), needsSession: false };
  }
  if (path === "/meetings") return { name: "meetings", view: mountMeetings, needsSession: true };
  if ((m = path.match(/^\/meeting\/(\d+)$/))) {
    const id = Number(m[1]);
    return { name: "room", view: (root, c) => mountRoom(root, c, id), needsSession: true };
  }
  // a projector: a paired display needs no member session (display.js)
  if (path === "/pair") return { name: "pair", view: (root, c) => mountPairForm(root, c), needsSession: false };
  // the pairing QR's page: the code came with it (one use, 10 minutes)
  if ((m = path.match(/^\/pair\/([A-Za-z0-9-]{1,16})$/))) {
    const code = m[1];
    return { name: "pair", view: (root, c) => mountPairForm(root, c, { code }), needsSession: false };
  }
  if ((m = path.match(/^\/display\/(\d+)$/))) {
    const id = Number(m[1]);
    return { name: "display", view: (root, c) => mountDisplay(root, c, id), needsSession: false };
  }
  if ((m = path.match(/^\/minutes\/(\d+)$/))) {
    const id = Number(m[1]);
    return { name: "minutes", view: (root, c) => mountMinutes(root, c, id), needsSession: true };
  }
  if (path === "/security") return { name: "security", view: mountSecurity, needsSession: true };
  if (path === "/admin/security") {
    return { name: "admin-security", view: me?.is_admin ? mountSecurityAdmin : messageView("error.not_authorised_title", "error.not_authorised"), needsSession: true };
  }
  if (path === "/org") return { name: "org", view: mountOrg, needsSession: true };
  if ((m = path.match(/^\/committee\/(\d+)$/))) {
    const id = Number(m[1]);
    return { name: "org", view: (root, c) => mountCommittee(root, c, id), needsSession: true };
  }
  if ((m = path.match(/^\/profile\/([^/]+)$/))) {
    const memberId = decodeURIComponent(m[1]);
    return { name: "org", view: (root, c) => mountProfile(root, c, memberId), needsSession: true };
  }
  if (path === "/admin/members") {
    return { name: "admin", view: me?.is_admin ? mountAdmin : messageView("error.not_authorised_title", "error.not_authorised"), needsSession: true };
  }
  return { name: "missing", view: messageView("error.page_not_found"), needsSession: false };
}

function route() {
  if (typeof unmountCurrent === "function") unmountCurrent();
  unmountCurrent = undefined;
  const { name, view: mount, needsSession } = resolve(location.hash);
  if (needsSession && !me) {
    rememberNext();
    location.hash = "#/login";
    return;
  }
  if (name === "login" && me) {
    location.hash = "#/meetings";
    return;
  }
  markNav(name);
  view.replaceChildren();
  title = { key: "app.name" };
  applyTitle();
  unmountCurrent = mount(view, ctx);
  if (!view.contains(document.activeElement)) view.focus({ preventScroll: true });
  window.scrollTo(0, 0);
}

async function onLanguagePicked() {
  const lang = languageSelect.value;
  if (!i18n.isLanguage(lang)) return;
  await i18n.setLanguage(lang);
  if (!me) return; // saved on this device; sent to the server at sign-in
  try {
    me = await api.setLanguage(lang);
  } catch (err) {
    if (err instanceof ApiError && err.code === "not_authenticated") ctx.sessionExpired();
    // otherwise the choice still holds on this device
  }
}

async function logout() {
  try {
    await api.logout();
  } catch {
    // the session may already be gone: sign out locally anyway
  }
  if (typeof unmountCurrent === "function") unmountCurrent();
  unmountCurrent = undefined;
  me = null;
  renderChrome();
  ctx.go("#/login");
}

async function boot() {
  installStepUp(); // step_up_required anywhere: ask for a code in place, then retry
  const lang = i18n.initialLanguage();
  try {
    me = await api.me();
  } catch {
    me = null; // not signed in (or server unreachable: the login view will say so)
  }
  await i18n.setLanguage(me && i18n.isLanguage(me.language) ? me.language : lang, { remember: Boolean(me) });
  i18n.onLanguageChange(() => {
    applyTitle();
    renderChrome();
  });
  renderChrome();
  languageSelect.addEventListener("change", onLanguagePicked);
  document.getElementById("logout")?.addEventListener("click", logout);
  window.addEventListener("hashchange", route);
  route();
}

boot();
