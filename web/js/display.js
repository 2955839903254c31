// @ts-check
/**
 * The main-room display (route `#/display/<meeting_id>`), for the projector: the
 * current speaker large (the chair's spotlight, else the most recent remote speaker),
 * the remote sites in a grid, names and connection quality. No controls in the way;
 * the chair, the secretary or an observer ("display") account signs in on it.
 *
 * It receives only (a display media session) and never plays the main room's own
 * audio back into the room.
 * @module display
 */
import { ApiError, MeetingLink } from "./protocol.js";
import { MediaSession } from "./media.js";
import { createTile } from "./video.js";
import { tx, t } from "./i18n.js";
import { h, replaceChildren } from "./dom.js";
import { errorMessage } from "./errors.js";
import { createDisplayBoard } from "./procedure-panel.js";

/** @typedef {import("./protocol.js").Participant} Participant */
/** @typedef {import("./video.js").Tile} Tile */

/**
 * @param {HTMLElement} root
 * @param {import("./app.js").AppContext} ctx
 * @param {number} meetingId
 */
export function mountDisplay(root, ctx, meetingId) {
  ctx.setTitle("display.title_loading");
  document.body.classList.add("display-mode");
  /** @type {Map<string, Participant>} */
  const roster = new Map();
  /** @type {MediaSession | null} */
  let media = null;
  /** @type {Map<string, Tile>} */
  const tiles = new Map();
  /** the remote participant most recently heard (main-room speakers stay out of the stage) */
  let lastRemoteSpeaker = /** @type {string | null} */ (null);

  const title = h("h1", { class: "display-title" }, tx("display.title_loading"));
  const state = h("span", { class: "display-state", "data-media-state": "connecting" }, tx("media.state.connecting"));
  const fullscreen = h("button", { type: "button", class: "display-fullscreen", "data-action": "fullscreen" }, tx("display.fullscreen"));
  fullscreen.addEventListener("click", () => document.documentElement.requestFullscreen?.().catch(() => undefined));
  const stage = h("div", { class: "display-stage", "data-member-id": "" });
  const grid = h("div", { class: "display-grid", "data-count": "0" });
  const message = h("p", { class: "display-message", hidden: true });
  root.append(h("section", { class: "display" },
    h("header", { class: "display-head" }, title, message, state, fullscreen), stage, grid));

  const link = new MeetingLink(meetingId, { attendance: "main_room" });
  // the agenda item, the speaker and live vote results (procedure-panel.js)
  const board = createDisplayBoard(link, ctx.me?.member_id ?? "");
  root.querySelector(".display-head")?.after(board.element);
  const nameOf = (/** @type {string} */ id) => roster.get(id)?.full_name ?? id;
  /** @param {Participant} p */
  const placeOf = (p) => (p.attendance === "sub_site" && p.site ? p.site.name : "");

  link.addEventListener("status", (e) => {
    const status = /** @type {CustomEvent<import("./protocol.js").LinkStatus>} */ (e).detail;
    if (status.state === "disconnected" && status.error) {
      if (status.error.code === "not_authenticated") return ctx.sessionExpired();
      message.hidden = false;
      message.textContent = errorMessage(status.error, "room");
    }
  });
  link.addEventListener("joined", (e) => {
    const ack = /** @type {CustomEvent<import("./protocol.js").JoinResult>} */ (e).detail;
    roster.clear();
    for (const p of ack.roster) roster.set(p.member_id, p);
    title.textContent = ack.meeting.title;
    ctx.setTitle("display.title", { title: ack.meeting.title });
    if (!media) {
      media = new MediaSession(link, { display: true, profile: "full" });
      /** @type {any} */ (root.querySelector(".display")).media = media;
      for (const ev of ["remote", "publication", "muted", "spotlight", "speaker", "quality"]) {
        media.addEventListener(ev, render);
      }
      media.addEventListener("speaker", () => {
        const id = media?.activeSpeaker;
        // the main room hears its own people: only someone elsewhere goes on the stage
        if (id && !media?.publications.get(id)?.main_room && roster.get(id)?.attendance !== "main_room") lastRemoteSpeaker = id;
      });
      media.addEventListener("state", () => {
        const s = media?.status;
        if (!s) return;
        state.dataset.mediaState = s.state;
        replaceChildren(state, s.error && s.state !== "connected"
          ? errorMessage(s.error, "room")
          : tx(`media.state.${s.state === "idle" ? "connecting" : s.state}`));
        if (s.error instanceof ApiError && s.error.code === "not_authorised") {
          message.hidden = false;
          message.textContent = t("display.not_allowed");
        }
      });
    }
    media.start();
  });
  link.addEventListener("participant", (e) => {
    const { participant } = /** @type {CustomEvent<{participant: Participant}>} */ (e).detail;
    roster.set(participant.member_id, participant);
    render();
  });

  /** @param {string} memberId */
  function tileFor(memberId) {
    let tile = tiles.get(memberId);
    if (!tile) {
      tile = createTile(memberId, nameOf(memberId));
      tiles.set(memberId, tile);
    }
    return tile;
  }

  function render() {
    if (!media) return;
    const remote = media.remote();
    for (const [id, tile] of tiles) {
      if (!remote.has(id)) {
        tile.set({ audio: null, video: null }, false);
        tile.element.remove();
        tiles.delete(id);
      }
    }
    const isMainRoom = (/** @type {string} */ id) => Boolean(media?.publications.get(id)?.main_room)
      || roster.get(id)?.attendance === "main_room";
    let onStage = media.spotlight && remote.has(media.spotlight) ? media.spotlight : null;
    if (!onStage && lastRemoteSpeaker && remote.has(lastRemoteSpeaker)) onStage = lastRemoteSpeaker;
    if (!onStage) onStage = [...remote.keys()].find((id) => !isMainRoom(id) && remote.get(id)?.video) ?? null;
    /** @type {HTMLElement[]} */
    const others = [];
    for (const [id, item] of remote) {
      const tile = tileFor(id);
      const p = roster.get(id);
      const place = p ? placeOf(p) : "";
      tile.setName(place ? `${nameOf(id)} · ${place}` : nameOf(id));
      const pub = media.publications.get(id);
      // never play the main room's own sound back into the room
      tile.set({ video: item.video, audio: isMainRoom(id) ? null : item.audio }, pub?.video !== false);
      tile.setMuted(Boolean(pub?.muted));
      tile.setQuality(media.quality.get(id)?.quality ?? "unknown");
      tile.element.classList.toggle("tile-speaking", media.activeSpeaker === id);
      if (id === onStage) continue;
      if (isMainRoom(id) && id !== media.spotlight) continue;
      others.push(tile.element);
    }
    stage.dataset.memberId = onStage ?? "";
    if (onStage) replaceChildren(stage, tileFor(onStage).element);
    else replaceChildren(stage, h("p", { class: "display-empty" }, tx("display.nobody")));
    replaceChildren(grid, others);
    grid.dataset.count = String(others.length);
  }

  return () => {
    document.body.classList.remove("display-mode");
    media?.close();
    for (const tile of tiles.values()) tile.set({ audio: null, video: null }, false);
    board.destroy();
    link.close();
  };
}
