// @ts-check
/**
 * The meeting room's media area, video first: a stage (the spotlight, a shared screen
 * or the current speaker, large) with a filmstrip, or a grid of equal tiles; a control
 * bar that is always on screen (microphone, camera, hand, layout, settings) with
 * keyboard shortcuts on a laptop; the media state; one tile per participant with their
 * name, the connection quality (in words and bars, not colour only), their microphone
 * and camera switches, a speaking mark and a raised hand. Media itself is in media.js.
 * @module video
 */
import { MediaSession } from "./media.js";
import { tx, t } from "./i18n.js";
import { h, replaceChildren } from "./dom.js";
import { icon } from "./icons.js";
import { ApiError } from "./protocol.js";
import { errorMessage } from "./errors.js";

/** @typedef {import("./media.js").SendMode} SendMode */
/** @typedef {import("./media.js").UplinkCap} UplinkCap */
/** @typedef {import("./media.js").ProfileMode} ProfileMode */
/** @typedef {import("./media.js").RemoteMedia} RemoteMedia */

const PREFS_KEY = "meetingd.media";
const LAYOUT_KEY = "meetingd.layout";

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

/** Quality in bars (shape, not only colour). */
const QUALITY_BARS = { good: "▮▮▮", fair: "▮▮▯", poor: "▮▯▯", unknown: "▯▯▯" };

/**
 * One tile: video (or initials), name, quality, microphone/camera switches, hand, speaking.
 * @param {string} memberId
 * @param {string} name
 * @param {boolean} mine
 */
export function createTile(memberId, name, mine = false) {
  const video = /** @type {HTMLVideoElement} */ (h("video", { autoplay: true, playsinline: true, muted: true }));
  video.muted = true;
  const audio = /** @type {HTMLAudioElement} */ (h("audio", { autoplay: true }));
  const initialsOf = (/** @type {string} */ text) => text.split(/\s+/).filter(Boolean).slice(-2).map((w) => w[0]).join("").toUpperCase();
  const initials = h("span", { class: "tile-initials", "aria-hidden": "true" }, initialsOf(name));
  const label = h("span", { class: "tile-name" }, name);
  const qualityText = h("span", { class: "visually-hidden" });
  const quality = h("span", { class: "tile-quality", "data-quality": "unknown" }, h("span", { class: "quality-bars", "aria-hidden": "true" }, QUALITY_BARS.unknown), qualityText);
  const muted = h("span", { class: "tile-flag tile-muted", hidden: true }, icon("mic", { off: true }), tx("media.muted"));
  const micOff = h("span", { class: "tile-flag tile-mic-off", hidden: true }, icon("mic", { off: true }), tx("media.mic_off_short"));
  const camOff = h("span", { class: "tile-flag tile-cam-off", hidden: true }, icon("camera", { off: true }), tx("media.camera_off_short"));
  const hand = h("span", { class: "tile-hand", hidden: true }, icon("hand"), tx("media.hand_raised"));
  const frozen = h("span", { class: "tile-flag tile-frozen", role: "status", hidden: true }, tx("media.frozen"));
  const linkFlag = h("span", { class: "tile-flag tile-link", hidden: true });
  const speaking = h("span", { class: "tile-speaking-mark", hidden: true }, icon("speaker"), h("span", { class: "visually-hidden" }, tx("media.speaking")));
  const tools = h("div", { class: "tile-tools" });
  const element = h("figure", { class: "tile", "data-member-id": memberId, "data-has-video": "false", "data-mine": String(mine) },
    h("div", { class: "tile-media" }, initials, video), audio,
    h("div", { class: "tile-top" }, hand, frozen, linkFlag),
    h("figcaption", { class: "tile-caption" }, speaking, label, muted, micOff, camOff, quality), tools);
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
      const bars = /** @type {HTMLElement} */ (quality.firstChild);
      bars.textContent = QUALITY_BARS[/** @type {keyof typeof QUALITY_BARS} */ (q)] ?? QUALITY_BARS.unknown;
      qualityText.textContent = t(`media.quality.${q}`);
      quality.title = t(`media.quality.${q}`);
    },
    /** @param {boolean} isMuted the chair muted them */
    setMuted(isMuted) {
      muted.hidden = !isMuted;
      element.dataset.muted = String(isMuted);
    },
    /** @param {{mic: boolean, camera: boolean}} sw their own switches */
    setSwitches(sw) {
      micOff.hidden = sw.mic || !muted.hidden;
      camOff.hidden = sw.camera;
      element.dataset.mic = sw.mic ? "on" : "off";
      element.dataset.camera = sw.camera ? "on" : "off";
    },
    /** @param {boolean} isFrozen their video stopped arriving while their camera is on */
    setFrozen(isFrozen) {
      frozen.hidden = !isFrozen;
      element.dataset.frozen = String(isFrozen);
    },
    /** @param {"ok" | "weak" | "lost"} link the server's view of their link */
    setLink(link) {
      element.dataset.link = link;
      linkFlag.hidden = link === "ok";
      if (link !== "ok") replaceChildren(linkFlag, tx(link === "lost" ? "media.link.lost" : "media.link.weak"));
    },
    /** @param {boolean} raised */
    setHand(raised) {
      hand.hidden = !raised;
      element.dataset.hand = String(raised);
    },
    /** @param {boolean} on */
    setSpeaking(on) {
      speaking.hidden = !on;
      element.classList.toggle("tile-speaking", on);
    },
    /** @param {string} text */
    setName(text) {
      if (label.textContent === text) return;
      label.textContent = text;
      initials.textContent = initialsOf(text);
    },
  };
}

/** @typedef {ReturnType<typeof createTile>} Tile */

/**
 * A shared screen, large: the video and whose screen it is (shown on the stage of the
 * room and of the main-room display).
 */
export function createScreenTile() {
  const video = /** @type {HTMLVideoElement} */ (h("video", { autoplay: true, playsinline: true, muted: true }));
  video.muted = true;
  const label = h("span", { class: "tile-name" });
  const element = h("figure", { class: "tile tile-screen", "data-screen-of": "" },
    h("div", { class: "tile-media" }, video),
    h("figcaption", { class: "tile-caption" }, icon("screen"), label));
  return {
    element, video,
    /**
     * @param {string} memberId the sharer
     * @param {string} caption
     * @param {MediaStreamTrack | null} track
     */
    show(memberId, caption, track) {
      element.dataset.screenOf = memberId;
      if (label.textContent !== caption) label.textContent = caption;
      attach(video, track);
    },
  };
}

/** An event's target is somewhere one types: no shortcuts there. */
function isTyping(/** @type {EventTarget | null} */ target) {
  const el = /** @type {HTMLElement | null} */ (target);
  if (!el || !el.tagName) return false;
  return ["INPUT", "TEXTAREA", "SELECT"].includes(el.tagName) || el.isContentEditable;
}

/**
 * The media area of the meeting room.
 * @param {{
 *   link: import("./protocol.js").MeetingLink,
 *   myId: string,
 *   isChair: () => boolean,
 *   inMainRoom: () => boolean,
 *   nameOf: (memberId: string) => string,
 *   hand: {can: () => boolean, raised: () => boolean, toggle: () => Promise<unknown>},
 *   raisedHands: () => Set<string>,
 *   floor: () => string | null,
 *   canShare: () => boolean,
 * }} opts
 */
export function createMediaArea(opts) {
  const prefs = loadPrefs();
  const media = new MediaSession(opts.link, { send: prefs.send, cap: prefs.cap, profile: prefs.profile, memberId: opts.myId });
  /** @type {Map<string, Tile>} */
  const tiles = new Map();
  /** @type {"stage" | "grid"} */
  let layout = localStorage.getItem(LAYOUT_KEY) === "grid" ? "grid" : "stage";
  let firstJoin = true;

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
    (v) => { prefs.send = /** @type {SendMode} */ (v); savePrefs(prefs); media.setSend(prefs.send); renderControls(); });
  const capField = select("media-cap", "media.cap", [["none", "media.cap.none"], ["low", "media.cap.low"], ["very_low", "media.cap.very_low"]], prefs.cap,
    (v) => { prefs.cap = /** @type {UplinkCap} */ (v); savePrefs(prefs); media.setCap(prefs.cap); });
  const profileField = select("media-profile", "media.profile", [["full", "media.profile.full"], ["low_video", "media.profile.low_video"], ["last_n", "media.profile.last_n"], ["main_room_only", "media.profile.main_room_only"], ["audio_only", "media.profile.audio_only"]], prefs.profile,
    (v) => { prefs.profile = /** @type {ProfileMode} */ (v); savePrefs(prefs); media.setProfile(prefs.profile).catch(() => undefined); renderTiles(); });
  const roomCamera = /** @type {HTMLInputElement} */ (h("input", { type: "checkbox", id: "media-room-camera" }));
  roomCamera.addEventListener("change", async () => {
    await media.setMainRoom(roomCamera.checked);
    // the room's camera computer sends its camera and the room's microphone
    if (roomCamera.checked) {
      await media.setCamera(true);
      await media.setMic(true);
    }
    renderControls();
  });
  const roomCameraField = h("label", { class: "media-check", for: "media-room-camera", hidden: true }, roomCamera, h("span", {}, tx("media.room_camera")));
  const status = h("p", { class: "media-status", role: "status", "aria-live": "polite", "data-media-state": "idle" });
  // nothing arrives: say so at once, whatever the connection state says
  const banner = h("div", { class: "media-banner", role: "alert", hidden: true }, tx("media.no_media"));
  // our own link is weak: the server sends sound only (or video anyway, the member's choice)
  const weakNote = h("p", { class: "media-weak", role: "status", "aria-live": "polite", hidden: true });
  function renderWeakLink() {
    const w = media.weakLink;
    weakNote.hidden = !w.weak;
    weakNote.dataset.auto = String(w.auto);
    if (!w.weak) return;
    const button = h("button", { type: "button", class: "btn btn-small", "data-action": w.auto ? "keep-video" : "sound-only",
      onclick: () => media.setWeakLinkAuto(!w.auto).catch(() => undefined) }, tx(w.auto ? "media.weak.keep_video" : "media.weak.sound_only"));
    replaceChildren(weakNote, h("span", {}, tx(w.auto ? "media.weak.sound" : "media.weak.video_kept")), " ", button);
  }
  // the chair: which sites have a weak or lost link (the server's view, media_quality)
  const linkAlerts = h("p", { class: "link-alerts", role: "status", "aria-live": "polite", hidden: true });
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

  // ---- the control bar ------------------------------------------------------------
  /**
   * @param {string} action
   * @param {string} shortcut
   * @param {() => void} onClick
   */
  const control = (action, shortcut, onClick) => {
    const b = /** @type {HTMLButtonElement} */ (h("button", { type: "button", class: "ctl", "data-action": action, "aria-keyshortcuts": shortcut || undefined }));
    b.addEventListener("click", onClick);
    return b;
  };
  const micButton = control("toggle-mic", "M", () => { media.setMic(!media.micOn).then(renderControls); });
  const camButton = control("toggle-camera", "V", () => { media.setCamera(!media.cameraOn).then(renderControls); });
  const handButton = control("toggle-hand", "H", () => {
    handButton.disabled = true;
    opts.hand.toggle().catch(() => undefined).finally(() => { handButton.disabled = false; renderControls(); });
  });
  // Screen sharing: the button shares (or stops our share); a line says who shares, with
  // "Stop sharing" for the sharer and the chair.
  const shareButton = control("toggle-share", "S", () => {
    shareButton.disabled = true;
    shareError.hidden = true;
    const sharing = Boolean(media.screenPc);
    (sharing ? media.stopScreenShare() : media.shareScreen())
      .catch((/** @type {unknown} */ err) => {
        // the browser's own "cancel" in its picker is no error to show
        if (err instanceof DOMException && err.name === "NotAllowedError") return;
        replaceChildren(shareError, err instanceof ApiError ? errorMessage(err, "media.share") : t("media.share.failed"));
        shareError.hidden = false;
      })
      .finally(() => { shareButton.disabled = false; renderControls(); renderTiles(); });
  });
  const shareError = h("span", { class: "media-error", role: "alert", hidden: true });
  const screenLine = h("p", { class: "screen-line", role: "status", "aria-live": "polite", hidden: true });
  const screenTile = createScreenTile();
  function renderScreenLine() {
    const sharer = media.screenSharer;
    screenLine.hidden = !sharer;
    screenLine.dataset.sharer = sharer ?? "";
    if (!sharer) {
      replaceChildren(screenLine);
      return;
    }
    const mine = sharer === opts.myId;
    const text = mine ? t("media.share.you") : t("media.share.other", { name: opts.nameOf(sharer) });
    const stop = mine || opts.isChair()
      ? h("button", { type: "button", class: "btn btn-small btn-danger", "data-action": "stop-share",
          onclick: () => (mine ? media.stopScreenShare() : media.stopSomeonesScreen()).catch(() => undefined) },
        tx("media.share.stop"))
      : null;
    replaceChildren(screenLine, icon("screen"), h("span", { class: "screen-text" }, text), stop);
  }
  const layoutButton = control("toggle-layout", "G", () => {
    layout = layout === "stage" ? "grid" : "stage";
    try {
      localStorage.setItem(LAYOUT_KEY, layout);
    } catch {
      // not kept
    }
    renderControls();
    renderTiles();
  });
  const settingsPanel = h("div", { class: "media-settings", id: "media-settings", hidden: true },
    h("div", { class: "media-controls" }, sendField, capField, profileField, roomCameraField),
    h("p", { class: "shortcuts hint" }, tx("media.shortcuts")));
  const settingsButton = control("media-settings", "", () => {
    settingsPanel.hidden = !settingsPanel.hidden;
    settingsButton.setAttribute("aria-expanded", String(!settingsPanel.hidden));
  });
  settingsButton.setAttribute("aria-controls", "media-settings");
  settingsButton.setAttribute("aria-expanded", "false");
  replaceChildren(settingsButton, icon("more"), h("span", { class: "ctl-label" }, tx("media.ctl.more")));
  const controlBar = h("div", { class: "control-bar", role: "toolbar", "aria-label": t("media.controls"), "data-i18n-aria-label": "media.controls" },
    micButton, camButton, handButton, shareButton, layoutButton, settingsButton);
  const note = h("p", { class: "media-note", hidden: true }, tx("media.main_room_note"));

  function renderControls() {
    const sending = media.send !== "none" && !media.display;
    micButton.hidden = camButton.hidden = !sending;
    const micOn = media.micOn && Boolean(media.localStream?.getAudioTracks().length);
    micButton.dataset.on = String(micOn);
    micButton.setAttribute("aria-pressed", String(!micOn));
    replaceChildren(micButton, icon("mic", { off: !micOn }), h("span", { class: "ctl-label" }, tx(micOn ? "media.ctl.mute" : "media.ctl.unmute")));
    micButton.title = `${t(micOn ? "media.ctl.mute" : "media.ctl.unmute")} (M)`;
    const camOn = media.cameraOn;
    camButton.dataset.on = String(camOn);
    camButton.setAttribute("aria-pressed", String(!camOn));
    replaceChildren(camButton, icon("camera", { off: !camOn }), h("span", { class: "ctl-label" }, tx(camOn ? "media.ctl.camera_off" : "media.ctl.camera_on")));
    camButton.title = `${t(camOn ? "media.ctl.camera_off" : "media.ctl.camera_on")} (V)`;
    const raised = opts.hand.raised();
    handButton.hidden = !opts.hand.can();
    handButton.dataset.on = String(raised);
    handButton.setAttribute("aria-pressed", String(raised));
    replaceChildren(handButton, icon("hand"), h("span", { class: "ctl-label" }, tx(raised ? "media.ctl.lower_hand" : "media.ctl.raise_hand")));
    handButton.title = `${t(raised ? "media.ctl.lower_hand" : "media.ctl.raise_hand")} (H)`;
    const sharing = Boolean(media.screenPc);
    shareButton.hidden = media.display || !MediaSession.canShareScreen() || (!sharing && !opts.canShare());
    shareButton.dataset.on = String(sharing);
    shareButton.setAttribute("aria-pressed", String(sharing));
    const shareKey = sharing ? "media.ctl.stop_share" : "media.ctl.share";
    replaceChildren(shareButton, icon("screen", { off: sharing }), h("span", { class: "ctl-label" }, tx(shareKey)));
    shareButton.title = `${t(shareKey)} (S)`;
    replaceChildren(layoutButton, icon(layout === "stage" ? "grid" : "stage"), h("span", { class: "ctl-label" }, tx(layout === "stage" ? "media.ctl.grid" : "media.ctl.stage")));
    layoutButton.title = `${t(layout === "stage" ? "media.ctl.grid" : "media.ctl.stage")} (G)`;
    element.dataset.layout = layout;
    renderScreenLine();
  }

  /** @param {KeyboardEvent} event */
  const onKey = (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey || isTyping(event.target)) return;
    const key = event.key.toLowerCase();
    /** @type {HTMLButtonElement | null} */
    const target = key === "m" ? micButton : key === "v" ? camButton : key === "h" ? handButton : key === "g" ? layoutButton : key === "s" ? shareButton : null;
    if (!target || target.hidden || target.disabled) return;
    event.preventDefault();
    target.click();
  };
  document.addEventListener("keydown", onKey);

  const stage = h("div", { class: "stage", "data-member-id": "" });
  const grid = h("div", { class: "tiles", "data-count": "0" });
  const element = h("section", { class: "media-area", "aria-label": t("media.title"), "data-i18n-aria-label": "media.title", "data-layout": layout },
    banner, stage, grid, screenLine,
    h("div", { class: "media-line" }, recIndicator, status, weakNote, linkAlerts, sound, recButton, shareError),
    note, settingsPanel, controlBar);

  // the session, for tests and the browser console: document.querySelector(".media-area").media
  /** @type {any} */ (element).media = media;
  const mine = createTile(opts.myId, opts.nameOf(opts.myId), true);
  mine.element.classList.add("tile-mine");

  function renderBanner() {
    banner.hidden = !media.stalled;
    element.dataset.stalled = String(media.stalled);
  }

  /** The chair's list of sites whose link is weak or lost. */
  function renderLinks() {
    /** @type {{weak: string[], lost: string[]}} */
    const bad = { weak: [], lost: [] };
    for (const row of media.quality.values()) {
      if (row.member_id === opts.myId) continue;
      if (row.link === "weak" || row.link === "lost") bad[row.link].push(opts.nameOf(row.member_id));
    }
    const show = opts.isChair() && (bad.weak.length > 0 || bad.lost.length > 0);
    linkAlerts.hidden = !show;
    if (!show) return;
    /** @type {HTMLElement[]} */
    const parts = [];
    if (bad.lost.length) parts.push(h("span", { class: "link-lost", "data-link": "lost" }, tx("media.links.lost", { names: bad.lost.join(", ") })));
    if (bad.weak.length) parts.push(h("span", { class: "link-weak", "data-link": "weak" }, tx("media.links.weak", { names: bad.weak.join(", ") })));
    replaceChildren(linkAlerts, parts);
  }

  function renderStatus() {
    renderBanner();
    const s = media.status;
    status.dataset.mediaState = s.state;
    /** @type {(HTMLElement | string)[]} */
    const parts = [];
    const mark = h("span", { class: "state-mark", "aria-hidden": "true" }, s.state === "connected" ? "✓" : s.state === "reconnecting" ? "!" : "…");
    if (s.state === "connecting") parts.push(mark, tx("media.state.connecting"));
    else if (s.state === "reconnecting") parts.push(mark, tx("media.state.reconnecting"));
    else if (s.state === "connected") parts.push(mark, tx("media.state.connected"));
    else if (s.state === "closed") parts.push(tx("media.state.closed"));
    else if (s.state === "elsewhere" || s.state === "moved") {
      // a second device: ask, never take over silently (the other keeps its media)
      parts.push(h("span", { class: "media-elsewhere" }, tx(s.state === "elsewhere" ? "media.state.elsewhere" : "media.state.moved")),
        h("button", { type: "button", class: "btn btn-small btn-primary", "data-action": "take-over", onclick: () => media.takeOver() },
          tx(s.state === "elsewhere" ? "media.take_over" : "media.take_back")));
    }
    if (s.cameraBlocked) parts.push(h("span", { class: "media-blocked", "data-camera-blocked": "true" }, tx("media.camera_blocked")));
    if (s.error && s.state !== "connected") parts.push(h("span", { class: "media-error" }, s.error.message));
    replaceChildren(status, parts);
    renderControls();
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

  /**
   * Who is large on the stage: the chair's spotlight, else whoever has the floor, else
   * the most recent speaker, else the first one sending video; never oneself unless alone.
   * @param {Map<string, RemoteMedia>} remote
   */
  function onStage(remote) {
    const candidates = [media.spotlight, opts.floor(), media.activeSpeaker];
    for (const id of candidates) if (id && remote.has(id)) return id;
    for (const [id, item] of remote) if (item.video && media.publications.get(id)?.camera_on !== false) return id;
    const first = remote.keys().next();
    return first.done ? null : first.value;
  }

  function renderTiles() {
    const remote = media.remote();
    const showVideo = prefs.profile !== "audio_only";
    const hands = opts.raisedHands();
    for (const [memberId, tile] of tiles) {
      if (!remote.has(memberId)) {
        tile.set({ audio: null, video: null }, false);
        tile.element.remove();
        tiles.delete(memberId);
      }
    }
    mine.set({ audio: null, video: media.cameraOn ? media.localStream?.getVideoTracks()[0] ?? null : null }, true);
    mine.setMuted(Boolean(media.publications.get(opts.myId)?.muted));
    mine.setSwitches({ mic: media.micOn && Boolean(media.localStream?.getAudioTracks().length), camera: media.cameraOn });
    mine.setQuality(media.quality.get(opts.myId)?.quality ?? "unknown");
    mine.setHand(hands.has(opts.myId));
    mine.setSpeaking(false);
    /** @type {HTMLElement[]} */
    const order = [];
    // a shared screen takes the stage in either layout; the speaker joins the filmstrip
    const sharer = media.screenSharer;
    const screen = sharer === opts.myId ? media.screenStream?.getVideoTracks()[0] ?? null : media.screenTrack();
    const showScreen = Boolean(sharer && screen && showVideo);
    const staged = layout === "stage" && !showScreen ? onStage(remote) : null;
    for (const [memberId, item] of remote) {
      const tile = tileFor(memberId);
      tile.setName(opts.nameOf(memberId));
      const pub = media.publications.get(memberId);
      tile.set(item, showVideo && pub?.video !== false && pub?.camera_on !== false);
      tile.setMuted(Boolean(pub?.muted));
      tile.setSwitches({ mic: pub?.mic_on !== false, camera: pub?.camera_on !== false });
      tile.setQuality(media.quality.get(memberId)?.quality ?? "unknown");
      tile.setLink(media.quality.get(memberId)?.link ?? "ok");
      tile.setFrozen(media.frozen.has(memberId) || media.stalled);
      tile.setSpeaking(media.activeSpeaker === memberId);
      tile.setHand(hands.has(memberId));
      renderTools(tile, memberId);
      if (memberId !== staged) order.push(tile.element);
    }
    if (media.send !== "none" || media.localStream) order.unshift(mine.element);
    if (showScreen && sharer) {
      stage.dataset.memberId = "";
      screenTile.show(sharer, sharer === opts.myId ? t("media.share.your_screen") : t("media.share.screen_of", { name: opts.nameOf(sharer) }), screen);
      if (stage.firstChild !== screenTile.element) replaceChildren(stage, screenTile.element);
    } else if (staged) {
      stage.dataset.memberId = staged;
      const big = tileFor(staged).element;
      if (stage.firstChild !== big) replaceChildren(stage, big);
    } else if (layout === "stage" && !remote.size && media.status.state === "connected") {
      stage.dataset.memberId = "";
      replaceChildren(stage, h("p", { class: "empty" }, tx("media.nobody")));
    } else {
      stage.dataset.memberId = "";
      replaceChildren(stage);
    }
    if (!showScreen) screenTile.show("", "", null);
    stage.hidden = layout === "grid" && !showScreen;
    element.dataset.screen = showScreen ? "on" : "off";
    // move nodes only when the order changes: re-attaching a playing video restarts it
    if (order.length !== grid.children.length || order.some((el, i) => grid.children[i] !== el)) replaceChildren(grid, order);
    grid.dataset.count = String(order.length);
    element.dataset.remote = String(remote.size);
  }

  media.addEventListener("state", renderStatus);
  media.addEventListener("local", renderTiles);
  media.addEventListener("remote", renderTiles);
  media.addEventListener("publication", renderTiles);
  media.addEventListener("switches", () => { renderControls(); renderTiles(); });
  media.addEventListener("muted", (e) => {
    const d = /** @type {CustomEvent<{member_id: string, muted: boolean}>} */ (e).detail;
    if (d.member_id === opts.myId) {
      for (const track of media.localStream?.getAudioTracks() ?? []) track.enabled = !d.muted;
    }
    renderTiles();
  });
  media.addEventListener("spotlight", renderTiles);
  media.addEventListener("screen", () => { renderControls(); renderTiles(); });
  media.addEventListener("speaker", renderTiles);
  media.addEventListener("quality", () => { renderTiles(); renderLinks(); });
  media.addEventListener("weaklink", () => { renderWeakLink(); renderTiles(); });
  media.addEventListener("inbound", () => { renderBanner(); renderTiles(); });
  renderControls();

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
      if (firstJoin) {
        firstJoin = false;
        // in the room, a phone's microphone and loudspeaker echo: start with both off
        if (opts.inMainRoom()) {
          media.micOn = false;
          media.cameraOn = false;
        }
        note.hidden = !opts.inMainRoom();
      }
      media.start();
      renderStatus();
      renderRecording();
      renderControls();
    },
    /** Names, roles, hands or the floor changed (roster or procedure update, language). */
    refresh() {
      mine.setName(opts.nameOf(opts.myId));
      renderTiles();
      renderRecording();
      renderControls();
    },
    destroy() {
      document.removeEventListener("keydown", onKey);
      media.close();
      for (const tile of [...tiles.values(), mine]) tile.set({ audio: null, video: null }, false);
    },
  };
}
