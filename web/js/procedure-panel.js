// @ts-check
/**
 * Puts the meeting procedure into the room and onto the main-room display: one
 * {@link Procedure} per link, and the panels each role needs — quorum bar and agenda
 * for everyone, the voting panel, the speakers' list, the chair console, the check-in
 * panel of officers and operators.
 * @module procedure-panel
 */
import { t, tx, onLanguageChange } from "./i18n.js";
import { h, replaceChildren } from "./dom.js";
import { Procedure } from "./procedure.js";
import { createQuorumIndicator, createAttendancePanel, createSelfCheckIn } from "./attendance.js";
import { createSpeakersPanel, speakingFor, setFloorTime, floorClock } from "./speakers.js";
import { createVotePanel } from "./vote.js";
import { createChairConsole, handCountForm, takesHandCounts } from "./chair.js";
import { renderResults } from "./results.js";
import { createTrusteePanel } from "./trustee.js";

/** @typedef {import("./protocol.js").MeetingLink} MeetingLink */
/** @typedef {import("./protocol.js").Participant} Participant */

/**
 * Calls `fn` at most once per animation frame.
 * @param {() => void} fn
 */
function batched(fn) {
  let queued = false;
  return () => {
    if (queued) return;
    queued = true;
    requestAnimationFrame(() => {
      queued = false;
      fn();
    });
  };
}

/**
 * The procedure part of the meeting room.
 * @param {{link: MeetingLink, myId: string, role: () => string | null, me: () => Participant | null}} options
 */
export function createProcedureArea({ link, myId, role, me }) {
  const proc = new Procedure(link, myId);
  const r = () => role() ?? "observer";
  const officer = () => r() === "chair" || r() === "secretary";
  const quorum = createQuorumIndicator(proc);
  const agendaLine = h("span", { class: "bar-item" });
  const bar = h("div", { class: "proc-bar" }, quorum.element, agendaLine);
  const votes = createVotePanel(proc, {
    canVote: () => {
      const entry = proc.entry(myId);
      return ["chair", "secretary", "member"].includes(r()) && Boolean(entry?.present);
    },
    whyNot: () => {
      if (r() === "observer") return t("vote.cannot.observer");
      if (r() === "operator") return t("vote.cannot.operator");
      return t("vote.cannot.not_present");
    },
  });
  const selfCheckIn = createSelfCheckIn(proc, myId);
  const speakers = createSpeakersPanel(proc, { myId, role: r() });
  const consolePanel = officer() ? createChairConsole(proc, { role: r() }) : null;
  // a member's trustee panel shows only while they are the deputy trustee
  const trustee = officer() || r() === "member"
    ? createTrusteePanel(proc, { myId, isChair: r() === "chair", officer: officer() })
    : null;
  const attendance = officer() || r() === "operator"
    ? createAttendancePanel(proc, { role: r(), mySiteName: () => me()?.site?.name ?? null })
    : null;
  const siteHands = h("section", { class: "panel proc-panel site-hands", hidden: true });
  let siteHandsSig = "";

  const voteEmpty = h("p", { class: "vote-empty hint" }, tx("vote.none_open"));
  // the room puts these where its layout wants them (side panel or tabs, room.js)
  const parts = {
    bar,
    vote: h("div", { class: "proc", "data-role": r() }, votes.element, voteEmpty, selfCheckIn.element, siteHands,
      officer() ? null : trustee?.element ?? null),
    speakers: speakers.element,
    // the officers' tab: the console, then their trustee panel (key share, decryption)
    chair: consolePanel ? h("div", { class: "chair-parts" }, consolePanel.element, trustee?.element ?? null) : null,
    attendance: attendance?.element ?? null,
  };

  function renderSiteHands() {
    if (r() !== "operator") return;
    const site = me()?.site?.name ?? "";
    const polls = proc.openPolls().filter(takesHandCounts);
    const sig = JSON.stringify([site, polls.map((p) => p.poll_id)]);
    if (sig === siteHandsSig) return;
    siteHandsSig = sig;
    siteHands.hidden = !polls.length;
    replaceChildren(siteHands, h("h2", {}, tx("hand.title_panel")), polls.map((p) => h("div", {}, h("p", {}, h("strong", {}, p.config.question)), handCountForm(proc, p, site))));
  }

  function renderBar() {
    const item = proc.currentItem();
    const cur = proc.state?.speakers.current;
    replaceChildren(agendaLine,
      item ? h("span", { class: "bar-agenda" }, tx("agenda.item_short", { position: item.position }), " ", item.title) : null,
      cur ? h("span", { class: "bar-speaker" }, " · ", tx("speakers.speaking_short", { name: cur.name }), " ", h("span", { class: "floor-time", "data-floor-state": floorClock(cur).state }, speakingFor(cur))) : null);
  }

  const render = batched(() => {
    voteEmpty.hidden = proc.openPolls().length > 0 || !votes.element.hidden;
    quorum.render();
    renderBar();
    votes.render();
    selfCheckIn.render(me()?.attendance === "main_room");
    speakers.render();
    consolePanel?.render();
    attendance?.render();
    renderSiteHands();
  });
  proc.addEventListener("change", render);
  const timer = setInterval(() => {
    speakers.tick();
    votes.tick();
    const cur = proc.state?.speakers.current;
    setFloorTime(agendaLine.querySelector(".floor-time"), cur);
  }, 1000);
  const offLang = onLanguageChange(() => {
    siteHandsSig = "";
    render();
  });

  return {
    parts,
    procedure: proc,
    /** call when the room's own state (my attendance) changed */
    refresh: render,
    destroy() {
      clearInterval(timer);
      offLang();
      attendance?.destroy();
      proc.destroy();
    },
  };
}

/**
 * The main-room display's procedure board: the current agenda item, who has the floor
 * and the live results of the open poll (or the last result) as a large bar chart.
 * @param {MeetingLink} link
 * @param {string} myId
 */
export function createDisplayBoard(link, myId) {
  const proc = new Procedure(link, myId);
  const item = h("div", { class: "board-item" });
  const speaker = h("div", { class: "board-speaker" });
  const poll = h("div", { class: "board-poll" });
  const element = h("section", { class: "display-proc", "aria-live": "polite" }, h("div", { class: "board-line" }, item, speaker), poll);

  const render = batched(() => {
    const s = proc.state;
    if (!s) return;
    const current = proc.currentItem();
    replaceChildren(item, current
      ? [h("span", { class: "board-label" }, tx("agenda.current")), h("strong", {}, `${current.position}. ${current.title}`)]
      : null);
    const cur = s.speakers.current;
    replaceChildren(speaker, cur
      ? [h("span", { class: "board-label" }, tx("speakers.has_floor")), h("strong", { class: "board-speaker-name" }, cur.name), " ", h("span", { class: "floor-time", "data-floor-state": floorClock(cur).state }, speakingFor(cur))]
      : null);
    const open = proc.openPolls()[0];
    const shown = open ?? [...s.polls].reverse().find((p) => p.state === "closed" && p.result) ?? null;
    replaceChildren(poll, shown ? renderResults(shown, { large: true }) : null);
    element.hidden = !current && !cur && !shown;
  });
  proc.addEventListener("change", render);
  const timer = setInterval(() => {
    const cur = proc.state?.speakers.current;
    setFloorTime(speaker.querySelector(".floor-time"), cur);
  }, 1000);
  const offLang = onLanguageChange(render);
  element.hidden = true;
  return {
    element,
    procedure: proc,
    destroy() {
      clearInterval(timer);
      offLang();
      proc.destroy();
    },
  };
}
