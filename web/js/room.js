// @ts-check
/**
 * The meeting room shell, video first: title and state, the connection banner, the
 * "how do you attend" choice, then the meeting itself — the media area (stage,
 * filmstrip or grid, control bar) and beside it, on a laptop, a side panel with tabs
 * (Speakers · Vote · Chat · People · Chair); on a phone the stage stays on top and the
 * tabs (Video · Speakers · Vote · Chat · …) switch what is below it.
 * @module room
 */
import { api, ApiError, MeetingLink } from "./protocol.js";
import { tx, t, formatTime, onLanguageChange } from "./i18n.js";
import { h, replaceChildren } from "./dom.js";
import { errorMessage } from "./errors.js";
import { stateBadge, roleBadge } from "./badges.js";
import { renderRoster } from "./roster.js";
import { createChat } from "./chat.js";
import { createMediaArea } from "./video.js";
import { alertText } from "./security-admin.js";
import { createProcedureArea } from "./procedure-panel.js";
import { createDisplaysPanel } from "./displays-panel.js";

/** @typedef {import("./protocol.js").Meeting} Meeting */
/** @typedef {import("./protocol.js").Participant} Participant */
/** @typedef {import("./protocol.js").Attendance} Attendance */
/** @typedef {import("./protocol.js").LinkStatus} LinkStatus */

/** @typedef {"video" | "speakers" | "vote" | "chat" | "people" | "chair"} TabName */
const TAB_ORDER = /** @type {TabName[]} */ (["video", "speakers", "vote", "chat", "people", "chair"]);
const phone = () => window.matchMedia("(max-width: 899px)").matches;

/** @param {number} id */
const attendanceKey = (id) => `meetingd.attendance.${id}`;

/**
 * @param {number} meetingId
 * @returns {Attendance | null}
 */
function savedAttendance(meetingId) {
  try {
    const raw = sessionStorage.getItem(attendanceKey(meetingId));
    const value = raw ? JSON.parse(raw) : null;
    if (value && ["main_room", "sub_site", "remote"].includes(value.attendance)) return value;
  } catch {
    // ignore a corrupt or unavailable entry
  }
  return null;
}

/**
 * @param {HTMLElement} root
 * @param {import("./app.js").AppContext} ctx
 * @param {number} meetingId
 */
export function mountRoom(root, ctx, meetingId) {
  ctx.setTitle("room.title_loading");
  const myId = ctx.me?.member_id ?? "";
  /** @type {Meeting | null} */
  let meeting = null;
  /** @type {Map<string, Participant>} */
  const roster = new Map();
  /** @type {MeetingLink | null} */
  let link = null;
  /** @type {Participant | null} */
  let myself = null;
  let alive = true;
  let unread = 0;
  /** @type {TabName} */
  let activeTab = phone() ? "video" : "speakers";

  const head = h("header", { class: "room-head" });
  const banner = h("div", { class: "link-banner", role: "status", "aria-live": "polite", "data-link-state": "idle", hidden: true });
  const chooser = h("section", { class: "attend panel", hidden: true, "aria-labelledby": "attend-title" });
  const rosterBox = h("div", { class: "roster", id: "roster" });
  const chat = createChat({
    myId,
    send: (text) => (link ? link.sendChat(text) : Promise.reject(new ApiError("network", "not connected"))),
    onIncoming: () => {
      // count unread only while the chat is out of sight
      if (activeTab !== "chat") {
        unread += 1;
        renderTabs();
      }
    },
  });
  const tabList = h("div", { class: "tabs", role: "tablist", "aria-label": t("room.sections"), "data-i18n-aria-label": "room.sections" });
  /** @type {Map<TabName, {tab: HTMLButtonElement, panel: HTMLElement}>} */
  const tabs = new Map();
  const panels = h("div", { class: "room-panels" });
  const notice = h("div", { class: "room-notice", hidden: true });
  /** @type {ReturnType<typeof createMediaArea> | null} */
  let mediaArea = null;
  const mediaSlot = h("div", { class: "media-slot" });
  /** @type {ReturnType<typeof createProcedureArea> | null} */
  let procArea = null;
  /** @type {ReturnType<typeof createDisplaysPanel> | null} */
  let displaysPanel = null;
  const barSlot = h("div", { class: "bar-slot" });
  const body = h("div", { class: "room-main", hidden: true, "data-active-tab": activeTab },
    h("div", { class: "room-stage-col" }, mediaSlot),
    h("aside", { class: "room-side", "aria-label": t("room.sections"), "data-i18n-aria-label": "room.sections" }, tabList, panels));
  root.append(h("section", { class: "room" }, head, banner, notice, chooser, barSlot, body));

  /**
   * (Re)build the tabs for this member's role: Video (phone only), Speakers, Vote,
   * Chat, People, and Chair for the officers.
   * @param {Partial<Record<TabName, (HTMLElement | null)[]>>} content
   */
  function buildTabs(content) {
    tabs.clear();
    replaceChildren(tabList);
    replaceChildren(panels);
    for (const name of TAB_ORDER) {
      const parts = content[name];
      if (!parts) continue;
      const tab = /** @type {HTMLButtonElement} */ (h("button", { type: "button", role: "tab", id: `tab-${name}`, "aria-controls": `panel-${name}`, class: "tab", "data-tab": name }));
      tab.addEventListener("click", () => {
        tabChosen = true;
        selectTab(name);
      });
      tab.addEventListener("keydown", (event) => {
        if (event.key !== "ArrowRight" && event.key !== "ArrowLeft") return;
        const shown = [...tabs.keys()].filter((n) => /** @type {HTMLElement} */ (tabs.get(n)?.tab).offsetParent !== null);
        const i = shown.indexOf(name);
        const next = shown[(i + (event.key === "ArrowRight" ? 1 : shown.length - 1)) % shown.length];
        selectTab(next);
        tabs.get(next)?.tab.focus();
      });
      const panel = h("section", { class: "room-panel", id: `panel-${name}`, role: "tabpanel", "aria-labelledby": `tab-${name}`, "data-panel": name }, parts);
      tabs.set(name, { tab, panel });
      tabList.append(tab);
      panels.append(panel);
    }
    if (!tabs.has(activeTab)) activeTab = phone() ? "video" : "speakers";
    selectTab(activeTab);
  }

  /** the member chose a tab themself: the room stops choosing for them */
  let tabChosen = false;

  /** @param {TabName} name */
  function selectTab(name) {
    if (!tabs.has(name)) return;
    if (name === "video" && !phone()) name = tabs.has("chair") ? "chair" : "speakers";
    activeTab = name;
    if (name === "chat") unread = 0;
    body.dataset.activeTab = name;
    renderTabs();
    const chosen = tabs.get(name)?.tab;
    if (chosen) revealTab(chosen);
  }

  /**
   * Scroll the tab strip (it scrolls sideways on a phone) so the chosen tab is clear of
   * its faded right edge (room.css); the page itself does not move.
   * @param {HTMLElement} tab
   */
  function revealTab(tab) {
    const strip = tab.parentElement;
    if (!strip || strip.scrollWidth <= strip.clientWidth) return;
    const fade = 24; // 1.5rem
    const s = strip.getBoundingClientRect();
    const r = tab.getBoundingClientRect();
    if (r.right > s.right - fade) strip.scrollLeft += r.right - (s.right - fade);
    else if (r.left < s.left) strip.scrollLeft -= s.left - r.left;
  }

  const layoutWatch = window.matchMedia("(max-width: 899px)");
  const onLayoutChange = () => selectTab(activeTab === "video" || !tabs.has(activeTab) ? (phone() ? "video" : "speakers") : activeTab);
  layoutWatch.addEventListener("change", onLayoutChange);

  function renderTabs() {
    const s = procArea?.procedure.state;
    const openPolls = procArea?.procedure.openPolls().length ?? 0;
    const queue = s?.speakers.queue.length ?? 0;
    /** @type {Record<TabName, (HTMLElement | string | null)[]>} */
    const labels = {
      video: [tx("room.tab.video")],
      speakers: [tx("room.tab.speakers"), queue ? h("span", { class: "tab-count" }, String(queue)) : null],
      vote: [tx("room.tab.vote"), openPolls ? h("span", { class: "tab-live" }, tx("room.tab.vote_open")) : null],
      chat: [tx("room.chat"), unread ? h("span", { class: "tab-unread", "aria-label": t("chat.unread", { count: unread }) }, String(unread)) : null],
      // the attendance register's count, the same as the quorum's
      people: [tx("room.tab.people"), s ? h("span", { class: "tab-count", "data-present": s.attendance.present }, `${s.attendance.present}/${s.attendance.entitled}`) : null],
      chair: [tx("room.tab.chair")],
    };
    for (const [name, { tab }] of tabs) {
      replaceChildren(tab, labels[name]);
      tab.setAttribute("aria-selected", String(activeTab === name));
      tab.tabIndex = activeTab === name ? 0 : -1;
    }
  }

  // ---- header -------------------------------------------------------------

  /** @param {"open" | "close"} action @param {HTMLButtonElement} button */
  async function chairAction(action, button) {
    if (!meeting) return;
    if (action === "close" && !confirm(t("meeting.confirm_close", { title: meeting.title }))) return;
    button.disabled = true;
    try {
      const updated = action === "open" ? await api.openMeeting(meeting.id) : await api.closeMeeting(meeting.id);
      applyMeetingState(updated);
    } catch (err) {
      button.disabled = false;
      if (err instanceof ApiError && err.code === "not_authenticated") return ctx.sessionExpired();
      showNotice(errorMessage(err), "error");
    }
  }

  function renderHead() {
    if (!meeting) {
      replaceChildren(head, h("h1", {}, tx("room.title_loading")));
      return;
    }
    const isChair = meeting.my_role === "chair";
    /** @type {HTMLElement[]} */
    const actions = [];
    if (isChair && meeting.state === "scheduled") {
      const b = /** @type {HTMLButtonElement} */ (h("button", { type: "button", class: "btn btn-small", "data-action": "open" }, tx("meeting.open")));
      b.addEventListener("click", () => chairAction("open", b));
      actions.push(b);
    }
    if (isChair && meeting.state === "open") {
      const b = /** @type {HTMLButtonElement} */ (h("button", { type: "button", class: "btn btn-small btn-danger", "data-action": "close" }, tx("meeting.close")));
      b.addEventListener("click", () => chairAction("close", b));
      actions.push(b);
    }
    if (link && myself) {
      actions.push(h("button", { type: "button", class: "btn btn-small", "data-action": "leave", onclick: leaveMeeting }, tx("room.leave")));
    }
    const attending = myself ? describeAttendance(myself) : null;
    replaceChildren(head,
      h("div", { class: "room-title" },
        h("h1", {}, meeting.title),
        stateBadge(meeting.state),
      ),
      h("p", { class: "room-facts" },
        h("span", { class: "room-when" },
          h("time", { datetime: meeting.starts_at }, formatTime(meeting.starts_at)),
          meeting.place ? [" · ", meeting.place] : null,
          meeting.my_role ? [" · ", roleBadge(meeting.my_role)] : null),
        attending
          ? h("span", { class: "room-me" }, h("span", { class: "room-sep" }, " · "),
              tx("room.you_attend", { where: attending }),
              meeting.my_role !== "operator" && link
                ? h("button", { type: "button", class: "link-button", "data-action": "change-attendance", onclick: () => showChooser(true) }, tx("room.change_attendance"))
                : null)
          : null,
      ),
      actions.length ? h("div", { class: "actions" }, actions) : null,
    );
  }

  /** @param {Participant} p */
  function describeAttendance(p) {
    if (p.attendance === "sub_site") return t("room.where.sub_site", { name: p.site?.name ?? "?" });
    return t(`room.where.${p.attendance}`);
  }

  /**
   * @param {string} text
   * @param {"error" | "info"} kind
   * @param {HTMLElement | null} [extra]
   */
  function showNotice(text, kind, extra = null) {
    notice.hidden = !text;
    notice.className = `room-notice form-message ${kind}`;
    notice.setAttribute("role", kind === "error" ? "alert" : "status");
    replaceChildren(notice, h("span", {}, text), extra);
  }

  /** @param {import("./protocol.js").MeetingSummary} summary */
  function applyMeetingState(summary) {
    if (!meeting) return;
    meeting = { ...meeting, state: summary.state };
    renderHead();
    if (summary.state === "closed") {
      showNotice(t("room.closed_now"), "info", h("a", { href: "#/meetings", class: "btn" }, tx("nav.back_to_meetings")));
      link?.close();
      chat.setConnected(false);
      renderBanner({ state: "disconnected", attempt: 0, error: null }, "room.link.meeting_closed");
    }
  }

  // ---- connection banner ----------------------------------------------------

  /**
   * @param {LinkStatus} status
   * @param {string} [overrideKey]
   */
  function renderBanner(status, overrideKey) {
    banner.hidden = false;
    const offline = !navigator.onLine && status.state !== "connected";
    banner.dataset.linkState = status.state;
    /** @type {(HTMLElement | string | null)[]} */
    const parts = [h("span", { class: "link-dot", "aria-hidden": "true" })];
    if (overrideKey) {
      parts.push(tx(overrideKey));
    } else if (status.state === "connected") {
      parts.push(tx("room.link.connected"));
    } else if (status.state === "connecting") {
      parts.push(tx(offline ? "room.link.offline" : "room.link.connecting"));
    } else if (status.state === "reconnecting") {
      parts.push(tx(offline ? "room.link.offline" : "room.link.reconnecting"));
      if (status.attempt > 1) parts.push(" ", h("span", { class: "attempt" }, tx("room.link.attempt", { count: status.attempt })));
      parts.push(h("span", { class: "banner-detail" }, tx("room.link.reconnecting_detail")));
    } else {
      parts.push(tx("room.link.disconnected"));
      if (status.error) parts.push(" ", h("span", { class: "banner-detail" }, errorMessage(status.error, "room")));
      if (!status.error || !["not_found", "not_authorised", "invalid_state"].includes(status.error.code)) {
        parts.push(h("button", { type: "button", class: "btn btn-small", "data-action": "reconnect", onclick: () => myself && connect(link?.attendance ?? attendanceOf(myself)) }, tx("room.link.reconnect")));
      }
    }
    replaceChildren(banner, parts);
  }

  const onNetworkChange = () => link && renderBanner(link.status);
  window.addEventListener("online", onNetworkChange);
  window.addEventListener("offline", onNetworkChange);

  // ---- attendance -----------------------------------------------------------

  /** @param {Participant} p @returns {Attendance} */
  function attendanceOf(p) {
    return p.attendance === "sub_site" && p.site ? { attendance: "sub_site", site_id: p.site.id } : { attendance: p.attendance };
  }

  /** @param {boolean} changing the participant has joined and changes mode */
  function showChooser(changing) {
    if (!meeting) return;
    const sites = meeting.sites || [];
    const current = link?.attendance ?? savedAttendance(meetingId);
    const siteSelect = /** @type {HTMLSelectElement} */ (h("select", { id: "attend-site", name: "site_id", disabled: !sites.length },
      sites.map((s) => h("option", { value: String(s.id) }, s.name))));
    if (current?.site_id) siteSelect.value = String(current.site_id);
    const message = h("p", { class: "form-message", role: "alert" });
    /** @param {string} value @param {string} labelKey @param {string} hintKey @param {HTMLElement | null} [extra] */
    const option = (value, labelKey, hintKey, extra = null) => {
      const id = `attend-${value}`;
      return h("div", { class: "choice" },
        h("input", { type: "radio", name: "attendance", id, value, checked: (current?.attendance ?? "main_room") === value, disabled: value === "sub_site" && !sites.length }),
        h("label", { for: id }, h("strong", {}, tx(labelKey)), h("span", { class: "hint" }, tx(hintKey))),
        extra,
      );
    };
    const submit = /** @type {HTMLButtonElement} */ (h("button", { type: "submit", class: "btn btn-primary" }, tx(changing ? "room.attend.save" : "room.attend.join")));
    /** @param {SubmitEvent} event */
    const onSubmit = async (event) => {
      event.preventDefault();
      const form = /** @type {HTMLFormElement} */ (event.currentTarget);
      const mode = /** @type {HTMLInputElement | null} */ (form.querySelector('input[name="attendance"]:checked'))?.value;
      /** @type {Attendance} */
      let attendance;
      if (mode === "sub_site") attendance = { attendance: "sub_site", site_id: Number(siteSelect.value) };
      else if (mode === "remote") attendance = { attendance: "remote" };
      else attendance = { attendance: "main_room" };
      if (!changing || !link) {
        chooser.hidden = true;
        connect(attendance);
        return;
      }
      submit.disabled = true;
      try {
        await link.changeAttendance(attendance);
        chooser.hidden = true;
      } catch (err) {
        submit.disabled = false;
        message.className = "form-message error";
        message.textContent = errorMessage(err, "room");
      }
    };
    replaceChildren(chooser,
      h("form", { onsubmit: onSubmit },
        h("fieldset", {},
          h("legend", { id: "attend-title" }, h("h2", {}, tx("room.attend.title"))),
          option("main_room", "attendance.main_room", "room.attend.main_room_hint"),
          option("sub_site", "room.attend.sub_site", sites.length ? "room.attend.sub_site_hint" : "room.attend.no_sites",
            sites.length ? h("div", { class: "field site-field" }, h("label", { for: "attend-site" }, tx("room.attend.which_site")), siteSelect) : null),
          option("remote", "attendance.remote", "room.attend.remote_hint"),
        ),
        message,
        h("div", { class: "actions" },
          submit,
          changing
            ? h("button", { type: "button", class: "btn btn-quiet", onclick: () => { chooser.hidden = true; } }, tx("app.cancel"))
            : h("a", { class: "btn btn-quiet", href: "#/meetings" }, tx("nav.back_to_meetings")),
        ),
      ),
    );
    chooser.hidden = false;
    siteSelect.addEventListener("change", () => {
      const radio = /** @type {HTMLInputElement | null} */ (chooser.querySelector("#attend-sub_site"));
      if (radio) radio.checked = true;
    });
    /** @type {HTMLElement | null} */ (chooser.querySelector('input[name="attendance"]:checked'))?.focus();
  }

  // ---- live link --------------------------------------------------------------

  /**
   * @param {Attendance} attendance
   * @param {{keepAttendance?: boolean}} [options] a second device: join as I already attend
   */
  function connect(attendance, options = {}) {
    link?.close();
    const l = new MeetingLink(meetingId, attendance, options);
    link = l;
    procArea?.destroy();
    const pa = createProcedureArea({ link: l, myId, role: () => meeting?.my_role ?? null, me: () => myself });
    procArea = pa;
    const proc = pa.procedure;
    const myHand = () => Boolean(proc.state?.speakers.queue.some((e) => e.kind === "member" && e.member_id === myId));
    mediaArea?.destroy();
    mediaArea = createMediaArea({
      link: l,
      myId,
      isChair: () => meeting?.my_role === "chair",
      inMainRoom: () => myself?.attendance === "main_room",
      nameOf: (id) => roster.get(id)?.full_name ?? id,
      hand: {
        can: () => ["chair", "secretary", "member"].includes(meeting?.my_role ?? ""),
        raised: myHand,
        toggle: () => (myHand() ? proc.lowerHand() : proc.raiseHand()),
      },
      raisedHands: () => new Set((proc.state?.speakers.queue ?? []).filter((e) => e.kind === "member" && e.member_id).map((e) => /** @type {string} */ (e.member_id))),
      floor: () => proc.state?.speakers.current?.member_id ?? null,
      // the server decides (share_screen); the button follows the same rule
      canShare: () => ["chair", "secretary"].includes(meeting?.my_role ?? "")
        || (["member", "operator"].includes(meeting?.my_role ?? "") && proc.state?.speakers.current?.member_id === myId),
    });
    replaceChildren(mediaSlot, mediaArea.element);
    replaceChildren(barSlot, pa.parts.bar);
    const officer = ["chair", "secretary"].includes(meeting?.my_role ?? "");
    displaysPanel?.destroy();
    displaysPanel = officer ? createDisplaysPanel(meetingId) : null;
    buildTabs({
      video: [],
      speakers: [pa.parts.speakers],
      vote: [pa.parts.vote],
      chat: [h("h2", { class: "panel-title visually-hidden" }, tx("room.chat")), chat.element],
      people: [pa.parts.attendance, h("h2", { class: "panel-title" }, tx("room.roster")), rosterBox],
      ...(officer && pa.parts.chair ? { chair: [pa.parts.chair, displaysPanel?.element ?? null] } : {}),
    });
    // media tiles show hands and the floor; counts in the tabs and the roster follow the register
    let procSig = "";
    proc.addEventListener("change", () => {
      const st = proc.state;
      const sig = JSON.stringify([st?.speakers.queue.map((e) => e.entry_id), st?.speakers.current?.entry_id, st?.attendance.present, st?.attendance.members.map((m) => [m.member_id, m.present, m.attendance])]);
      // arriving (or reloading) while a vote is open: show it
      if (!tabChosen && activeTab !== "vote" && activeTab !== "chair" && proc.openPolls().length) {
        tabChosen = true;
        selectTab("vote");
      }
      renderTabs();
      if (sig === procSig) return;
      procSig = sig;
      mediaArea?.refresh();
      renderRosterNow();
    });
    proc.addEventListener("poll_opened", () => {
      // a vote is the most important thing on the screen now (the chair keeps the console)
      if (activeTab !== "chair") selectTab("vote");
    });
    renderBanner(l.status);
    l.addEventListener("status", (e) => {
      if (link !== l) return;
      const status = /** @type {CustomEvent<LinkStatus>} */ (e).detail;
      chat.setConnected(status.state === "connected");
      if (status.state === "disconnected" && status.error?.code === "not_authenticated") {
        ctx.sessionExpired();
        return;
      }
      if (status.state === "disconnected" && status.error?.code === "not_joined") {
        // not in the meeting on another device: ask how they attend
        banner.hidden = true;
        showChooser(false);
        return;
      }
      if (status.state === "disconnected" && status.error?.code === "invalid_state" && meeting) {
        applyMeetingState({ ...meeting, state: "closed" });
        return;
      }
      renderBanner(status);
    });
    l.addEventListener("joined", (e) => {
      if (link !== l) return;
      const ack = /** @type {CustomEvent<import("./protocol.js").JoinResult>} */ (e).detail;
      meeting = { ...meeting, ...ack.meeting };
      roster.clear();
      for (const p of ack.roster) roster.set(p.member_id, p);
      roster.set(ack.me.member_id, ack.me);
      myself = ack.me;
      try {
        sessionStorage.setItem(attendanceKey(meetingId), JSON.stringify(l.attendance));
      } catch {
        // private mode: the choice is asked again after a reload
      }
      chat.reset(ack.chat);
      body.hidden = false;
      chooser.hidden = true;
      ctx.setTitle("room.title", { title: ack.meeting.title });
      // media first: its offers and answers are the slow part of a join; the page
      // renders while they travel
      if (link === l && !l.resynced) mediaArea?.joined(); // a resync keeps the media as it is
      renderHead();
      renderAll();
      procArea?.refresh();
    });
    l.addEventListener("participant", (e) => {
      const { participant } = /** @type {CustomEvent<{participant: Participant}>} */ (e).detail;
      roster.set(participant.member_id, participant);
      if (participant.member_id === myId) {
        myself = participant;
        procArea?.refresh();
        renderHead();
      }
      renderAll();
    });
    l.addEventListener("chat", (e) => chat.posted(/** @type {CustomEvent} */ (e).detail));
    l.addEventListener("meeting_state", (e) => applyMeetingState(/** @type {CustomEvent} */ (e).detail));
    l.addEventListener("shutting_down", () => showNotice(t("room.server_restarting"), "info"));
    // security: the chair is told of alerts about this meeting (administrators see all)
    l.addEventListener("security_alert", (e) => showNotice(t("security.chair_alert", { text: alertText(/** @type {CustomEvent} */ (e).detail) }), "error"));
  }

  function renderRosterNow() {
    if (!meeting) return;
    const register = procArea?.procedure.state?.attendance ?? null;
    renderRoster(rosterBox, meeting, roster, myId, register);
  }

  function renderAll() {
    if (!meeting) return;
    renderRosterNow();
    renderTabs();
    mediaArea?.refresh();
  }

  async function leaveMeeting() {
    mediaArea?.destroy();
    mediaArea = null;
    await link?.leave();
    ctx.go("#/meetings");
  }

  // ---- start ----------------------------------------------------------------

  renderHead();
  renderTabs();
  api.meeting(meetingId).then(
    (m) => {
      if (!alive) return;
      meeting = m;
      ctx.setTitle("room.title", { title: m.title });
      renderHead();
      if (m.state === "closed") {
        showNotice(t("room.closed"), "info", h("a", { href: "#/meetings", class: "btn" }, tx("nav.back_to_meetings")));
        return;
      }
      const mine = (m.participants || []).find((p) => p.member_id === myId);
      if (!mine) {
        showNotice(t("room.not_participant"), "error", h("a", { href: "#/meetings", class: "btn" }, tx("nav.back_to_meetings")));
        return;
      }
      if (mine.role === "operator" && mine.site_id !== null && mine.site_id !== undefined) {
        connect({ attendance: "sub_site", site_id: mine.site_id });
        return;
      }
      const saved = savedAttendance(meetingId);
      if (saved) connect(saved);
      // a new device: if I am already in the meeting on another, join the same way
      // (my attendance never changes unasked); otherwise the server says not_joined
      else connect({ attendance: "main_room" }, { keepAttendance: true });
    },
    (err) => {
      if (!alive) return;
      if (err instanceof ApiError && err.code === "not_authenticated") return ctx.sessionExpired();
      showNotice(errorMessage(err, "room"), "error", h("a", { href: "#/meetings", class: "btn" }, tx("nav.back_to_meetings")));
    },
  );

  const offLang = onLanguageChange(() => {
    renderHead();
    renderAll();
    if (link) renderBanner(link.status);
  });

  return () => {
    alive = false;
    offLang();
    layoutWatch.removeEventListener("change", onLayoutChange);
    chat.destroy();
    window.removeEventListener("online", onNetworkChange);
    window.removeEventListener("offline", onNetworkChange);
    mediaArea?.destroy();
    procArea?.destroy();
    displaysPanel?.destroy();
    // navigating away inside the app leaves the meeting; closing the tab does not
    // (the server shows us "reconnecting", then "left")
    link?.leave();
  };
}
