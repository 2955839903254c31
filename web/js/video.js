// @ts-check
/**
 * The meeting room's media area: what to send (camera + microphone, microphone only,
 * nothing), an uplink cap for weak links, what to receive, the media state
 * ("connecting media…", "reconnecting…", "camera blocked"), and one tile per
 * participant with their name, a quality indicator and a muted indicator.
 * Media itself is in media.js.
 * @module video
 */
import { MediaSession } from "./media.js";
import { tx, t } from "./i18n.js";
import { h, replaceChildren } from "./dom.js";

/** @typedef {import("./media.js").SendMode} SendMode */
/** @typedef {import("./media.js").UplinkCap} UplinkCap */
/** @typedef {import("./media.js").ProfileMode} ProfileMode */
/** @typedef {import("./media.js").RemoteMedia} RemoteMedia */

const PREFS_KEY = "meetingd.media";

/** @returns {{send: SendMode, cap: UplinkCap, profile: ProfileMode, mainRoom: boolean}} */
function loadPrefs() {
  const prefs = { send: /** @type {SendMode} */ ("camera"), cap: /** @type {UplinkCap} */ ("none"), profile: /** @type {ProfileMode} */ ("full"), mainRoom: false };
  try {
    const saved = JSON.parse(localStorage.getItem(PREFS_KEY) || "{}");
    if (["camera", "mic", "none"].includes(saved.send)) prefs.send = saved.send;
    if (["none", "low", "very_low"].includes(saved.cap)) prefs.cap = saved.cap;
    if (["full", "low_video", "last_n", "main_room_only", "audio_only"].includes(saved.profile)) prefs.profile = saved.profile;
  } catch {
    // defaults
  }
  return prefs;
}

/** @param {object} prefs */
function savePrefs(prefs) {
  try {
    localStorage.setItem(PREFS_KEY, JSON.stringify(prefs));
  } catch {
    // not saved: asked again next time
  }
}

/**
 * Attach a track to a media element, keeping the element when the track is the same.
 * @param {HTMLMediaElement} el
 * @param {MediaStreamTrack | null} track
 */
export function attach(el, track) {
  const current = /** @type {MediaStream | null} */ (el.srcObject);
  const now = current?.getTracks()[0] ?? null;
  if (now === track) return;
  el.srcObject = track ? new MediaStream([track]) : null;
  if (track) el.play().catch(() => el.dispatchEvent(new CustomEvent("autoplay-blocked")));
}

/**
 * One tile: video (or initials), name, quality dot, muted mark.
 * @param {string} memberId
 * @param {string} name
 * @param {boolean} mine
 */
export function createTile(memberId, name, mine = false) {
  const video = /** @type {HTMLVideoElement} */ (h("video", { autoplay: true, playsinline: true, muted: true }));
  video.muted = true;
  const audio = /** @type {HTMLAudioElement} */ (h("audio", { autoplay: true }));
  const initials = h("span", { class: "tile-initials", "aria-hidden": "true" },
    name.split(/\s+/).filter(Boolean).slice(-2).map((w) => w[0]).join("").toUpperCase());
  const label = h("span", { class: "tile-name" }, name);
  const quality = h("span", { class: "tile-quality", "data-quality": "unknown", role: "img" });
  const muted = h("span", { class: "tile-muted", hidden: true }, tx("media.muted"));
  const tools = h("div", { class: "tile-tools" });
  const element = h("figure", { class: "tile", "data-member-id": memberId, "data-has-video": "false", "data-mine": String(mine) },
    h("div", { class: "tile-media" }, initials, video), audio,
    h("figcaption", { class: "tile-caption" }, quality, label, muted), tools);
  video.addEventListener("resize", () => { element.dataset.hasVideo = String(video.videoWidth > 0 && !video.hidden); });
  return {
    element, video, audio, tools,
    /** @param {RemoteMedia | {audio: MediaStreamTrack | null, video: MediaStreamTrack | null}} media @param {boolean} showVideo */
    set(media, showVideo) {
      attach(video, showVideo ? media.video : null);
      video.hidden = !showVideo || !media.video;
      element.dataset.hasVideo = String(!video.hidden && video.videoWidth > 0);
      if (!mine) attach(audio, media.audio);
    },
    /** @param {string} q */
    setQuality(q) {
      quality.dataset.quality = q;
      quality.setAttribute("aria-label", t(`media.quality.${q}`));
      quality.title = t(`media.quality.${q}`);
    },
    /** @param {boolean} isMuted */
    setMuted(isMuted) {
      muted.hidden = !isMuted;
      element.dataset.muted = String(isMuted);
    },
    /** @param {string} text */
    setName(text) {
      label.textContent = text;
    },
  };
}

/** @typedef {ReturnType<typeof createTile>} Tile */

/**
 * The media area of the meeting room.
 * @param {{
 *   link: import("./protocol.js").MeetingLink,
 *   myId: string,
 *   isChair: () => boolean,
 *   inMainRoom: () => boolean,
 *   nameOf: (memberId: string) => string,
 * }} opts
 */
export function createMediaArea(opts) {
  const prefs = loadPrefs();
  const media = new MediaSession(opts.link, { send: prefs.send, cap: prefs.cap, profile: prefs.profile });
  /** @type {Map<string, Tile>} */
  const tiles = new Map();

  /**
   * @param {string} id
   * @param {string} labelKey
   * @param {[string, string][]} options value, label key
   * @param {string} value
   * @param {(v: string) => void} onChange
   */
  const select = (id, labelKey, options, value, onChange) => {
    const sel = /** @type {HTMLSelectElement} */ (h("select", { id, "data-setting": id },
      options.map(([v, key]) => h("option", { value: v, "data-i18n": key }, t(key)))));
    sel.value = value;
    sel.addEventListener("change", () => onChange(sel.value));
    return h("div", { class: "field media-field" }, h("label", { for: id }, tx(labelKey)), sel);
  };
  const sendField = select("media-send", "media.send", [["camera", "media.send.camera"], ["mic", "media.send.mic"], ["none", "media.send.none"]], prefs.send,
    (v) => { prefs.send = /** @type {SendMode} */ (v); savePrefs(prefs); media.setSend(prefs.send); });
  const capField = select("media-cap", "media.cap", [["none", "media.cap.none"], ["low", "media.cap.low"], ["very_low", "media.cap.very_low"]], prefs.cap,
    (v) => { prefs.cap = /** @type {UplinkCap} */ (v); savePrefs(prefs); media.setCap(prefs.cap); });
  const profileField = select("media-profile", "media.profile", [["full", "media.profile.full"], ["low_video", "media.profile.low_video"], ["last_n", "media.profile.last_n"], ["main_room_only", "media.profile.main_room_only"], ["audio_only", "media.profile.audio_only"]], prefs.profile,
    (v) => { prefs.profile = /** @type {ProfileMode} */ (v); savePrefs(prefs); media.setProfile(prefs.profile).catch(() => undefined); renderTiles(); });
  const roomCamera = /** @type {HTMLInputElement} */ (h("input", { type: "checkbox", id: "media-room-camera" }));
  roomCamera.addEventListener("change", () => media.setMainRoom(roomCamera.checked));
  const roomCameraField = h("div", { class: "media-check", hidden: true }, roomCamera, h("label", { for: "media-room-camera" }, tx("media.room_camera")));
  const status = h("p", { class: "media-status", role: "status", "aria-live": "polite", "data-media-state": "idle" });
  const sound = h("button", { type: "button", class: "btn btn-small", hidden: true, "data-action": "enable-sound" }, tx("media.enable_sound"));
  sound.addEventListener("click", () => {
    for (const tile of tiles.values()) tile.audio.play().catch(() => undefined);
    sound.hidden = true;
  });
  // Recording: everyone sees the indicator; the chair starts and stops it.
  const recIndicator = h("span", { class: "rec-indicator", role: "status", "data-recording": "false", hidden: true }, tx("media.recording"));
  const recButton = /** @type {HTMLButtonElement} */ (h("button", { type: "button", class: "btn btn-small", "data-action": "recording", hidden: true }, tx("media.recording.start")));
  let recording = false;
  function renderRecording() {
    recIndicator.hidden = !recording;
    recIndicator.dataset.recording = String(recording);
    recButton.hidden = !opts.isChair();
    replaceChildren(recButton, tx(recording ? "media.recording.stop" : "media.recording.start"));
    recButton.dataset.action = recording ? "stop-recording" : "start-recording";
  }
  recButton.addEventListener("click", () => {
    recButton.disabled = true;
    opts.link.emit(recording ? "stop_recording" : "start_recording", {})
      .then((/** @type {any} */ ack) => { recording = Boolean(ack.recording); renderRecording(); })
      .catch(() => undefined)
      .finally(() => { recButton.disabled = false; });
  });
  opts.link.socket.on("recording_changed", (/** @type {{recording: boolean}} */ d) => { recording = Boolean(d.recording); renderRecording(); });
  const grid = h("div", { class: "tiles", "data-count": "0" });
  const settings = h("details", { class: "media-settings" },
    h("summary", {}, tx("media.settings")),
    h("div", { class: "media-controls" }, sendField, capField, profileField, roomCameraField));
  const element = h("section", { class: "media-area panel", "aria-labelledby": "media-title" },
    h("div", { class: "media-head" }, h("h2", { id: "media-title", class: "panel-title" }, tx("media.title")), recIndicator, status, sound, recButton),
    settings, grid);

  // the session, for tests and the browser console: document.querySelector(".media-area").media
  /** @type {any} */ (element).media = media;
  const mine = createTile(opts.myId, opts.nameOf(opts.myId), true);
  mine.element.classList.add("tile-mine");

  function renderStatus() {
    const s = media.status;
    status.dataset.mediaState = s.state;
    /** @type {(HTMLElement | string)[]} */
    const parts = [];
    if (s.state === "connecting") parts.push(tx("media.state.connecting"));
    else if (s.state === "reconnecting") parts.push(tx("media.state.reconnecting"));
    else if (s.state === "connected") parts.push(tx("media.state.connected"));
    else if (s.state === "closed") parts.push(tx("media.state.closed"));
    if (s.cameraBlocked) parts.push(h("span", { class: "media-blocked", "data-camera-blocked": "true" }, tx("media.camera_blocked")));
    if (s.error && s.state !== "connected") parts.push(h("span", { class: "media-error" }, s.error.message));
    replaceChildren(status, parts);
  }

  /** @param {string} memberId */
  function tileFor(memberId) {
    let tile = tiles.get(memberId);
    if (!tile) {
      tile = createTile(memberId, opts.nameOf(memberId));
      tile.audio.addEventListener("autoplay-blocked", () => { sound.hidden = false; });
      tiles.set(memberId, tile);
    }
    return tile;
  }

  function renderTools(/** @type {Tile} */ tile, /** @type {string} */ memberId) {
    if (!opts.isChair()) {
      replaceChildren(tile.tools);
      return;
    }
    const pub = media.publications.get(memberId);
    const isMuted = Boolean(pub?.muted);
    const spot = media.spotlight === memberId;
    replaceChildren(tile.tools,
      h("button", { type: "button", class: "btn btn-small", "data-action": isMuted ? "unmute" : "mute",
        onclick: () => media.mute(memberId, !isMuted).catch(() => undefined) }, tx(isMuted ? "media.unmute" : "media.mute")),
      h("button", { type: "button", class: "btn btn-small", "data-action": "spotlight", "aria-pressed": String(spot),
        onclick: () => media.setSpotlight(spot ? null : memberId).catch(() => undefined) }, tx(spot ? "media.unspotlight" : "media.spotlight")),
    );
  }

  function renderTiles() {
    const remote = media.remote();
    const showVideo = prefs.profile !== "audio_only";
    for (const [memberId, tile] of tiles) {
      if (!remote.has(memberId)) {
        tile.set({ audio: null, video: null }, false);
        tile.element.remove();
        tiles.delete(memberId);
      }
    }
    /** @type {HTMLElement[]} */
    const order = [];
    if (media.localStream) {
      mine.set({ audio: null, video: media.localStream.getVideoTracks()[0] ?? null }, true);
      mine.setMuted(Boolean(media.publications.get(opts.myId)?.muted));
      mine.setQuality(media.quality.get(opts.myId)?.quality ?? "unknown");
      order.push(mine.element);
    } else {
      mine.set({ audio: null, video: null }, false);
    }
    for (const [memberId, item] of remote) {
      const tile = tileFor(memberId);
      tile.setName(opts.nameOf(memberId));
      const pub = media.publications.get(memberId);
      tile.set(item, showVideo && pub?.video !== false);
      tile.setMuted(Boolean(pub?.muted));
      tile.setQuality(media.quality.get(memberId)?.quality ?? "unknown");
      tile.element.classList.toggle("tile-speaking", media.activeSpeaker === memberId);
      renderTools(tile, memberId);
      order.push(tile.element);
    }
    replaceChildren(grid, order);
    grid.dataset.count = String(order.length);
    if (!order.length) grid.append(h("p", { class: "empty" }, tx("media.nobody")));
  }

  media.addEventListener("state", renderStatus);
  media.addEventListener("local", renderTiles);
  media.addEventListener("remote", renderTiles);
  media.addEventListener("publication", renderTiles);
  media.addEventListener("muted", (e) => {
    const d = /** @type {CustomEvent<{member_id: string, muted: boolean}>} */ (e).detail;
    if (d.member_id === opts.myId) {
      for (const track of media.localStream?.getAudioTracks() ?? []) track.enabled = !d.muted;
    }
    renderTiles();
  });
  media.addEventListener("spotlight", renderTiles);
  media.addEventListener("speaker", renderTiles);
  media.addEventListener("quality", renderTiles);

  return {
    element,
    media,
    /** Call after every (re)join: starts media, or starts it over after a reconnect. */
    joined() {
      roomCameraField.hidden = !opts.inMainRoom();
      if (!opts.inMainRoom() && roomCamera.checked) {
        roomCamera.checked = false;
        media.mainRoom = false;
      }
      media.start();
      renderStatus();
      renderRecording();
    },
    /** Names or roles changed (roster update, language). */
    refresh() {
      mine.setName(opts.nameOf(opts.myId));
      renderTiles();
      renderRecording();
    },
    destroy() {
      media.close();
      for (const tile of [...tiles.values(), mine]) tile.set({ audio: null, video: null }, false);
    },
  };
}
