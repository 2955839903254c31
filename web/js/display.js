// @ts-check
/**
 * The main-room display (route `#/display/<meeting_id>`), for the projector: the
 * current speaker large (the chair's spotlight, else the most recent remote speaker),
 * the remote sites in a grid, names and connection quality. No controls in the way.
 *
 * A projector is not a person: it signs in with a one-time pairing code the chair or
 * the secretary created (route `#/pair`, or the form shown here), gets a display
 * session scoped to this meeting, and joins with `join_display` — never in the
 * roster or the quorum. An officer who opens this page on the projector pairs it at
 * once, with no code to type. The chair can revoke it.
 *
 * It receives only (a display media session) and never plays the main room's own
 * audio back into the room.
 * @module display
 */
import { api, ApiError, MeetingLink } from "./protocol.js";
import { MediaSession } from "./media.js";
import { createTile, createScreenTile } from "./video.js";
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
  /** @type {(() => void) | null} */
  let unmount = null;
  let alive = true;
  const showPairing = (/** @type {string} */ reasonKey) => {
    unmount?.();
    unmount = null;
    document.body.classList.remove("display-mode");
    root.replaceChildren();
    mountPairForm(root, ctx, { meetingId, reasonKey });
  };
  (async () => {
    // this screen already paired with this meeting, or an officer pairs it now
    let paired = await api.displayMe().then((d) => d.meeting_id === meetingId, () => false);
    if (!paired && ctx.me) {
      paired = await api.createDisplay(meetingId)
        .then((d) => api.pairDisplay(/** @type {string} */ (d.code)))
        .then(() => true, () => false);
    }
    if (!alive) return;
    if (paired) unmount = mountPairedDisplay(root, ctx, meetingId, () => showPairing("pair.revoked"));
    else showPairing(ctx.me ? "pair.not_officer" : "pair.intro");
  })();
  return () => {
    alive = false;
    unmount?.();
    document.body.classList.remove("display-mode");
  };
}

/**
 * The pairing form: type the code the chair or the secretary shows, or open the page
 * their QR code names (`#/pair/<code>`): then it pairs at once.
 * @param {HTMLElement} root
 * @param {import("./app.js").AppContext} ctx
 * @param {{meetingId?: number, reasonKey?: string, code?: string}} [options]
 */
export function mountPairForm(root, ctx, { meetingId, reasonKey = "pair.intro", code } = {}) {
  ctx.setTitle("pair.title");
  const input = /** @type {HTMLInputElement} */ (h("input", { id: "pair-code", name: "code", autocomplete: "off", autocapitalize: "characters", spellcheck: "false", maxlength: "16", class: "code-input", required: true }));
  const message = h("p", { class: "form-message", role: "alert" });
  const button = /** @type {HTMLButtonElement} */ (h("button", { type: "submit", class: "btn btn-primary" }, tx("pair.submit")));
  /** @param {Event} event */
  const submit = async (event) => {
    event.preventDefault();
    button.disabled = true;
    try {
      const d = await api.pairDisplay(input.value);
      if (meetingId === d.meeting_id) ctx.go(`#/display/${d.meeting_id}?paired=${d.id}`);
      else ctx.go(`#/display/${d.meeting_id}`);
    } catch (err) {
      message.className = "form-message error";
      message.textContent = err instanceof ApiError && err.code === "invalid_input" ? t("pair.error.invalid_input") : errorMessage(err, "pair");
      button.disabled = false;
    }
  };
  root.append(h("section", { class: "panel narrow pair" },
    h("h1", {}, tx("pair.title")),
    h("p", {}, tx(reasonKey)),
    h("form", { onsubmit: submit },
      h("div", { class: "field" }, h("label", { for: "pair-code" }, tx("pair.code")), input),
      message,
      h("div", { class: "actions" }, button))));
  if (code) {
    // scanned: the QR is the officer's code, so pair now (a used or expired one says so)
    input.value = code;
    message.className = "form-message";
    message.textContent = t("pair.pairing");
    submit(new Event("submit"));
  } else input.focus();
}

/**
 * @param {HTMLElement} root
 * @param {import("./app.js").AppContext} ctx
 * @param {number} meetingId
 * @param {() => void} onRevoked
 */
function mountPairedDisplay(root, ctx, meetingId, onRevoked) {
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

  const link = new MeetingLink(meetingId, { attendance: "main_room" }, { display: true });
  // the agenda item, the speaker and live vote results (procedure-panel.js)
  const board = createDisplayBoard(link, "display");
  root.querySelector(".display-head")?.after(board.element);
  const nameOf = (/** @type {string} */ id) => roster.get(id)?.full_name ?? id;
  /** @param {Participant} p */
  const placeOf = (p) => (p.attendance === "sub_site" && p.site ? p.site.name : "");

  link.addEventListener("status", (e) => {
    const status = /** @type {CustomEvent<import("./protocol.js").LinkStatus>} */ (e).detail;
    if (status.state === "disconnected" && status.error) {
      if (status.error.code === "not_authenticated") return onRevoked();
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
      for (const ev of ["remote", "publication", "muted", "spotlight", "speaker", "quality", "screen"]) {
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
    if (!link.resynced) media.start(); // a resync of the same connection keeps the media
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

  const screenTile = createScreenTile();

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
    // a shared screen takes the stage; whoever would be there joins the grid
    const screen = media.screenTrack();
    const sharer = screen ? media.screenSharer : null;
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
      if (id === onStage && !sharer) continue;
      if (isMainRoom(id) && id !== media.spotlight) continue;
      others.push(tile.element);
    }
    stage.dataset.memberId = sharer ? "" : onStage ?? "";
    stage.dataset.screen = sharer ? "on" : "off";
    if (sharer) {
      screenTile.show(sharer, t("media.share.screen_of", { name: nameOf(sharer) }), screen);
      if (stage.firstChild !== screenTile.element) replaceChildren(stage, screenTile.element);
    } else if (onStage) replaceChildren(stage, tileFor(onStage).element);
    else replaceChildren(stage, h("p", { class: "display-empty" }, tx("display.nobody")));
    if (!sharer) screenTile.show("", "", null);
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
