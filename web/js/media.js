// @ts-check
/**
 * Live media over WebRTC (docs/media.md, docs/protocol.md "Media"). No DOM here.
 *
 * Two peer connections, each offered by one side only: the *publish* connection
 * (this client offers its camera/microphone, the server answers) and the *subscribe*
 * connection (the server offers one m-line per forwarded track in `subscribe_offer`,
 * this client answers). Incoming tracks are mapped to participants by
 * `transceiver.mid` through the offer's `streams`, never by msid.
 *
 * Recovery: a connection that fails (or stays disconnected for a few seconds) is
 * replaced by starting over with `media_open` (the server replaces the session and
 * its connections); the state is `reconnecting` until both connections are up again.
 *
 * Watching the link: every 250 ms the client reads what its connections received
 * (getStats: packets and bytes of every inbound stream, and each transport's bytes, which
 * include the server's RTCP). Nothing for 1.5 s is a dead link whatever ICE says: the
 * state is `reconnecting` (never "connected" over a dead link) and `stalled` is true;
 * per publisher, a video that stops while their camera is on is `frozen`.
 *
 * Events (CustomEvent `detail`): `state` {@link MediaStatus}, `local` {stream, error},
 * `remote` Map<member_id, RemoteMedia>, `publication`, `muted` {member_id, muted},
 * `spotlight` {member_id}, `speaker` {member_id}, `quality` rows, `closed` {reason},
 * `screen` {member_id, stopped_by} (who shares a screen; {@link MediaSession#screenTrack}),
 * `inbound` {stalled, frozen: Set<member_id>}.
 *
 * Screen sharing is a third connection, publish-only: {@link MediaSession#shareScreen}
 * offers one `getDisplayMedia` video track with `share_screen`; the others receive it on
 * their subscribe connection as an m-line with `source: "screen"`.
 * @module media
 */
import { ApiError, mark } from "./protocol.js";

/** @typedef {"camera" | "mic" | "none"} SendMode */
/** @typedef {"none" | "low" | "very_low"} UplinkCap */
/** @typedef {"full" | "low_video" | "last_n" | "main_room_only" | "audio_only"} ProfileMode */
/**
 * `elsewhere`: this member's media is on another device, which keeps it until the
 * member says "use this device" here ({@link MediaSession#takeOver}); `moved`: another
 * device of theirs took it over (they can take it back).
 * @typedef {"idle" | "connecting" | "connected" | "reconnecting" | "closed" | "elsewhere" | "moved"} MediaState
 */
/** @typedef {{state: MediaState, cameraBlocked: boolean, error: ApiError | null, stalled?: boolean}} MediaStatus */
/**
 * @typedef {object} Publication what a participant publishes, and their own switches
 * @property {string} member_id
 * @property {boolean} audio
 * @property {boolean} video
 * @property {boolean} main_room
 * @property {boolean} muted the chair muted them (the server stops forwarding)
 * @property {boolean} [mic_on] their own microphone switch
 * @property {boolean} [camera_on] their own camera switch
 */
/**
 * @typedef {object} QualityRow
 * @property {string} member_id
 * @property {"good" | "fair" | "poor" | "unknown"} quality
 * @property {number | null} bitrate_kbps
 * @property {number | null} loss
 * @property {number | null} rtt_ms
 * @property {"ok" | "weak" | "lost"} [link] the server's view of their link
 */
/** @typedef {{memberId: string, audio: MediaStreamTrack | null, video: MediaStreamTrack | null}} RemoteMedia */
/** @typedef {{mid: string, participant_id: string | null, kind: "audio" | "video", source?: "camera" | "screen"}} StreamEntry */

/** Sender caps for a weak uplink: bits per second and resolution divider. */
export const UPLINK_CAPS = /** @type {Record<UplinkCap, {maxBitrate?: number, scaleResolutionDownBy?: number}>} */ ({
  none: {},
  low: { maxBitrate: 300_000, scaleResolutionDownBy: 2 },
  very_low: { maxBitrate: 120_000, scaleResolutionDownBy: 4 },
});

const SERVER_EVENTS = [
  "subscribe_offer", "publication_changed", "participant_muted", "spotlight_changed",
  "active_speaker_changed", "media_quality", "media_connection_changed", "media_closed",
  "screen_share_changed", "media_weak_link",
];
const GATHER_WAIT_MS = 1500;
/** This browser tab's own id, kept over a reload: the server tells a reload from a second device. */
function deviceId() {
  const key = "meetingd.device";
  try {
    let id = sessionStorage.getItem(key);
    if (!id) {
      id = Math.random().toString(36).slice(2, 12) + Date.now().toString(36);
      sessionStorage.setItem(key, id);
    }
    return id;
  } catch {
    return "";
  }
}

/** What we ask of the camera. */
const CAMERA = { width: { ideal: 640 }, height: { ideal: 360 }, frameRate: { ideal: 24, max: 30 } };
/**
 * The simulcast layers a camera is sent in, best first (the server tells them apart by rid,
 * RFC 8853, and forwards each subscriber the best one its link and profile allow). A browser
 * sends only as many as the capture is large enough for (Chromium: two at 640x360).
 * @type {RTCRtpEncodingParameters[]}
 */
const SIMULCAST = [
  { rid: "h", scaleResolutionDownBy: 1, maxBitrate: 900_000 },
  { rid: "m", scaleResolutionDownBy: 2, maxBitrate: 300_000 },
  { rid: "l", scaleResolutionDownBy: 4, maxBitrate: 100_000 },
];
const DISCONNECTED_GRACE_MS = 5000;
/** How often the inbound counters are read, and how long nothing may arrive before we say so.
 * Audio alone brings 50 packets a second (a few with DTX on), so 1.2 s of nothing is an
 * outage; with the poll and the last packets in flight the user is told within ~2 s. */
const INBOUND_POLL_MS = 250;
const STALL_AFTER_MS = 1200;


/**
 * A camera's sending transceiver in simulcast layers (SIMULCAST), or a single stream where the
 * browser refuses them.
 * @param {RTCPeerConnection} pc
 * @param {MediaStreamTrack | string} trackOrKind
 * @param {RTCRtpTransceiverInit} init
 * @returns {RTCRtpTransceiver}
 */
function addSimulcast(pc, trackOrKind, init) {
  try {
    return pc.addTransceiver(trackOrKind, { ...init, sendEncodings: SIMULCAST.map((e) => ({ ...e })) });
  } catch {
    return pc.addTransceiver(trackOrKind, init);
  }
}

/**
 * Wait until ICE gathering completes, or `ms` passes (candidates found later trickle).
 * @param {RTCPeerConnection} pc
 * @param {number} ms
 */
function gathered(pc, ms) {
  if (pc.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      if (pc.iceGatheringState !== "complete") return;
      pc.removeEventListener("icegatheringstatechange", done);
      resolve(undefined);
    };
    pc.addEventListener("icegatheringstatechange", done);
    setTimeout(() => {
      pc.removeEventListener("icegatheringstatechange", done);
      resolve(undefined);
    }, ms);
  });
}

export class MediaSession extends EventTarget {
  /**
   * @param {import("./protocol.js").MeetingLink} link a joined meeting link
   * @param {{display?: boolean, mainRoom?: boolean, send?: SendMode, cap?: UplinkCap, profile?: ProfileMode, mic?: boolean, camera?: boolean, memberId?: string}} [options]
   */
  constructor(link, options = {}) {
    super();
    this.link = link;
    /** our own member id (tells our screen share from someone else's) */
    this.memberId = options.memberId ?? "";
    this.display = Boolean(options.display);
    this.mainRoom = Boolean(options.mainRoom);
    /** @type {SendMode} */
    this.send = this.display ? "none" : (options.send ?? "camera");
    /** @type {UplinkCap} */
    this.cap = options.cap ?? "none";
    /** the member's own microphone switch (off: nothing is sent, not even silence) */
    this.micOn = options.mic ?? true;
    /** the member's own camera switch (off: the camera is released) */
    this.cameraOn = options.camera ?? this.send === "camera";
    /** @type {ProfileMode} */
    this.profile = options.profile ?? "full";
    /** @type {MediaStatus} */
    this.status = { state: "idle", cameraBlocked: false, error: null };
    /** @type {RTCIceServer[]} */
    this.iceServers = [];
    /** @type {RTCPeerConnection | null} */
    this.publishPc = null;
    /** @type {RTCPeerConnection | null} */
    this.subscribePc = null;
    /** @type {MediaStream | null} */
    this.localStream = null;
    /** @type {Map<string, StreamEntry>} mid -> what it carries */
    this.streams = new Map();
    /** @type {Map<string, Publication>} */
    this.publications = new Map();
    /** @type {Map<string, QualityRow>} */
    this.quality = new Map();
    /** @type {{weak: boolean, reason: string | null, auto: boolean, retry_seconds: number}} our own link, the server's view */
    this.weakLink = { weak: false, reason: null, auto: true, retry_seconds: 0 };
    /** @type {string | null} */
    this.spotlight = null;
    /** @type {string | null} */
    this.activeSpeaker = null;
    /** @type {string | null} who shares a screen now (the server's word) */
    this.screenSharer = null;
    /** @type {RTCPeerConnection | null} our own screen share's connection */
    this.screenPc = null;
    /** @type {MediaStream | null} what getDisplayMedia gave us */
    this.screenStream = null;
    /** the server told everyone our share started (a later other sharer or null ends it) */
    this.screenConfirmed = false;
    this.everConnected = false;
    this.closed = false;
    /** the next media_open takes the media over from the member's other device */
    this.takingOver = false;
    this.generation = 0;
    /** @type {Promise<void>} offers are applied one at a time */
    this.offerChain = Promise.resolve();
    /** @type {ReturnType<typeof setTimeout> | undefined} */
    this.recoveryTimer = undefined;
    /** @type {Record<string, (data: any) => void>} */
    this.handlers = {};
    /** nothing has arrived for STALL_AFTER_MS on the connections we have */
    this.stalled = false;
    /** @type {Set<string>} publishers whose video stopped arriving while their camera is on */
    this.frozen = new Set();
    /** @type {ReturnType<typeof setInterval> | undefined} */
    this.inboundTimer = undefined;
    this.inboundBusy = false;
    /** @type {{total: number, at: number}} */
    this.inboundLast = { total: -1, at: 0 };
    /** @type {Map<string, {packets: number, at: number}>} per publisher: video packets, when they last grew */
    this.videoLast = new Map();
    const socket = link.socket;
    for (const event of SERVER_EVENTS) {
      const fn = (/** @type {any} */ data) => this.onServerEvent(event, data);
      this.handlers[event] = fn;
      socket.on(event, fn);
    }
  }

  // ---- public API ---------------------------------------------------------------

  /** Open (or re-open) the media session: publish per `send`, receive per `profile`. */
  async start() {
    if (this.closed) return;
    const generation = ++this.generation;
    clearTimeout(this.recoveryTimer);
    this.closePeers();
    this.setState(this.everConnected ? "reconnecting" : "connecting");
    mark("media:open");
    let ack;
    try {
      const takeOver = this.takingOver;
      this.takingOver = false;
      ack = await this.link.emit("media_open", {
        ...(this.display ? { display: true } : { device: deviceId() }),
        ...(this.mainRoom ? { main_room: true } : {}),
        ...(takeOver ? { take_over: true } : {}),
        profile: this.profileValue(),
      });
    } catch (err) {
      if (generation !== this.generation) return;
      if (err instanceof ApiError && err.code === "media_elsewhere") {
        // a second device: the other keeps its media until the member says so here
        this.status.error = null;
        this.setState("elsewhere");
        return;
      }
      this.status.error = err instanceof ApiError ? err : new ApiError("internal", String(err));
      this.scheduleRecovery(4000);
      this.fireState();
      return;
    }
    if (generation !== this.generation || this.closed) return;
    mark("media:opened");
    this.status.error = null;
    this.iceServers = ack.ice_servers || [];
    this.publications = new Map((ack.publications || []).map((/** @type {Publication} */ p) => [p.member_id, p]));
    this.spotlight = ack.spotlight ?? null;
    this.activeSpeaker = ack.active_speaker ?? null;
    this.screenSharer = ack.screen_share ?? null;
    this.fire("screen", { member_id: this.screenSharer, stopped_by: null });
    this.fire("publication", null);
    this.fire("spotlight", { member_id: this.spotlight });
    if (this.send !== "none") await this.publish(generation);
    this.watchInbound();
    this.updateState();
  }

  // ---- watching what arrives --------------------------------------------------------

  /** Read the inbound counters every INBOUND_POLL_MS (once per session). */
  watchInbound() {
    if (this.inboundTimer !== undefined || this.closed) return;
    this.inboundTimer = setInterval(() => {
      if (this.inboundBusy) return;
      this.inboundBusy = true;
      this.checkInbound().catch(() => undefined).finally(() => { this.inboundBusy = false; });
    }, INBOUND_POLL_MS);
  }

  /** Compare what arrived with the last reading: a link that went quiet, a frozen video. */
  async checkInbound() {
    const now = performance.now();
    const pcs = [this.publishPc, this.subscribePc].filter((pc) => pc !== null && pc.connectionState !== "closed" && pc.remoteDescription);
    if (!pcs.length) {
      // between connections (recovering): a stall stays until something arrives again
      this.inboundLast = { total: -1, at: now };
      return;
    }
    let total = 0;
    /** @type {Map<string, number>} */
    const video = new Map();
    for (const pc of /** @type {RTCPeerConnection[]} */ (pcs)) {
      const report = await pc.getStats();
      for (const s of report.values()) {
        if (s.type === "transport") total += s.bytesReceived || 0;
        else if (s.type === "inbound-rtp") {
          total += (s.packetsReceived || 0) + (s.bytesReceived || 0);
          const entry = pc === this.subscribePc && s.mid ? this.streams.get(s.mid) : undefined;
          if (entry && entry.participant_id && entry.kind === "video") video.set(entry.participant_id, s.packetsReceived || 0);
        }
      }
    }
    if (total !== this.inboundLast.total) {
      this.inboundLast = { total, at: now };
      if (total > 0) this.setStalled(false); // something arrives
    } else if (total > 0 && now - this.inboundLast.at > STALL_AFTER_MS) {
      this.setStalled(true); // it arrived, and then stopped
    }
    /** @type {Set<string>} */
    const frozen = new Set();
    for (const [id, packets] of video) {
      const last = this.videoLast.get(id);
      if (!last || packets !== last.packets) {
        this.videoLast.set(id, { packets, at: now });
        continue;
      }
      const pub = this.publications.get(id);
      const soundOnly = this.profile === "audio_only" || (this.weakLink.weak && this.weakLink.auto);
      const expected = pub?.video !== false && pub?.camera_on !== false && !soundOnly;
      if (expected && packets > 0 && now - last.at > STALL_AFTER_MS) frozen.add(id);
    }
    for (const id of this.videoLast.keys()) if (!video.has(id)) this.videoLast.delete(id);
    const changed = frozen.size !== this.frozen.size || [...frozen].some((id) => !this.frozen.has(id));
    if (changed) {
      this.frozen = frozen;
      this.fire("inbound", { stalled: this.stalled, frozen: this.frozen });
    }
  }

  /** @param {boolean} stalled */
  setStalled(stalled) {
    if (stalled === this.stalled) return;
    this.stalled = stalled;
    this.status = { ...this.status, stalled };
    this.fire("inbound", { stalled, frozen: this.frozen });
    this.updateState();
    this.fireState();
  }

  /** "Use this device for video": take the media over from the member's other device. */
  async takeOver() {
    if (this.closed) return;
    this.takingOver = true;
    await this.start();
  }

  /** @param {SendMode} mode camera + microphone, microphone only, or nothing */
  async setSend(mode) {
    if (this.display || mode === this.send) return;
    this.send = mode;
    this.cameraOn = mode === "camera";
    this.status.cameraBlocked = false;
    await this.start();
  }

  /** @param {UplinkCap} cap */
  async setCap(cap) {
    this.cap = cap;
    const sender = this.videoSender();
    if (sender) await this.applyCap(sender);
  }

  /** @param {ProfileMode} mode */
  async setProfile(mode) {
    this.profile = mode;
    if (this.status.state === "idle" || this.closed) return;
    await this.link.emit("set_receive_profile", { profile: this.profileValue() });
  }

  /**
   * Sound only by itself while our link is weak (true, the default), or keep video anyway.
   * @param {boolean} auto
   */
  async setWeakLinkAuto(auto) {
    if (this.status.state === "idle" || this.closed) return;
    /** @type {any} */
    const ack = await this.link.emit("set_weak_link_auto", { auto });
    this.weakLink = { ...this.weakLink, weak: Boolean(ack.weak), reason: ack.reason ?? null, auto: Boolean(ack.auto) };
    this.fire("weaklink", this.weakLink);
  }

  /** @param {boolean} mainRoom this computer is the main room's camera */
  async setMainRoom(mainRoom) {
    if (this.mainRoom === mainRoom) return;
    this.mainRoom = mainRoom;
    await this.start();
  }

  /** Chair: mute or unmute someone (the server stops forwarding their audio). */
  async mute(/** @type {string} */ memberId, /** @type {boolean} */ muted) {
    await this.link.emit("mute_participant", { member_id: memberId, muted });
  }

  /** Chair: show someone large on the main-room display (null: nobody). */
  async setSpotlight(/** @type {string | null} */ memberId) {
    await this.link.emit("spotlight", { member_id: memberId });
  }

  /** @returns {Map<string, RemoteMedia>} what each publisher sends us now */
  remote() {
    /** @type {Map<string, RemoteMedia>} */
    const out = new Map();
    const pc = this.subscribePc;
    if (!pc) return out;
    for (const t of pc.getTransceivers()) {
      const entry = t.mid ? this.streams.get(t.mid) : undefined;
      if (!entry || !entry.participant_id || entry.source === "screen") continue;
      const item = out.get(entry.participant_id) ?? { memberId: entry.participant_id, audio: null, video: null };
      item[entry.kind] = t.receiver.track;
      out.set(entry.participant_id, item);
    }
    return out;
  }

  /** Inbound figures of one publisher's video and audio (and screen), from the subscribe connection. */
  async inboundStats(/** @type {string} */ memberId) {
    /** @type {{video: any, audio: any, screen: any}} */
    const found = { video: null, audio: null, screen: null };
    const pc = this.subscribePc;
    if (!pc) return found;
    for (const t of pc.getTransceivers()) {
      const entry = t.mid ? this.streams.get(t.mid) : undefined;
      if (!entry || entry.participant_id !== memberId) continue;
      for (const s of (await t.receiver.getStats()).values()) {
        if (s.type === "inbound-rtp") found[entry.source === "screen" ? "screen" : entry.kind] = s;
      }
    }
    return found;
  }

  /** @returns {MediaStreamTrack | null} the shared screen we receive now (someone else's) */
  screenTrack() {
    const pc = this.subscribePc;
    if (!pc || !this.screenSharer) return null;
    for (const t of pc.getTransceivers()) {
      const entry = t.mid ? this.streams.get(t.mid) : undefined;
      if (entry?.source === "screen" && entry.participant_id === this.screenSharer) return t.receiver.track;
    }
    return null;
  }

  /** @returns {boolean} this browser can share a screen */
  static canShareScreen() {
    return typeof navigator.mediaDevices?.getDisplayMedia === "function";
  }

  /**
   * Share a screen (or a window): `getDisplayMedia`, then a publish-only connection of
   * its own. The browser's own "stop sharing" ends it too. Rejects with an ApiError
   * (`not_authorised`, `screen_share_busy`, ...) or the browser's refusal.
   */
  async shareScreen() {
    if (this.display || this.closed || this.screenPc) return;
    const stream = await navigator.mediaDevices.getDisplayMedia({ video: { frameRate: { ideal: 15, max: 30 } }, audio: false });
    const track = stream.getVideoTracks()[0];
    if (!track) throw new ApiError("invalid_input", "no screen to share");
    track.contentHint = "detail";
    const pc = new RTCPeerConnection({ iceServers: this.iceServers });
    this.screenPc = pc;
    this.screenStream = stream;
    track.addEventListener("ended", () => { if (this.screenPc === pc) this.stopScreenShare().catch(() => undefined); });
    const transceiver = pc.addTransceiver(track, { direction: "sendonly", streams: [stream] });
    this.preferVp8(transceiver);
    /** @type {RTCIceCandidate[]} */
    const late = [];
    let answered = false;
    pc.addEventListener("icecandidate", (e) => {
      if (!e.candidate) return;
      if (answered) this.trickle("screen", e.candidate);
      else late.push(e.candidate);
    });
    try {
      await pc.setLocalDescription(await pc.createOffer());
      await gathered(pc, GATHER_WAIT_MS);
      const sent = pc.localDescription?.sdp ?? "";
      const ack = await this.link.emit("share_screen", { sdp: sent, type: "offer" });
      await pc.setRemoteDescription(ack.answer);
      answered = true;
      for (const c of late) if (!sent.includes(c.candidate)) this.trickle("screen", c);
    } catch (err) {
      this.releaseScreen(pc);
      throw err;
    }
    this.fire("screen", { member_id: this.screenSharer, stopped_by: null });
  }

  /** Stop our own screen share (the server tells everyone). */
  async stopScreenShare() {
    const pc = this.screenPc;
    if (!pc) return;
    this.releaseScreen(pc);
    if (this.link.socket.connected && this.screenSharer === this.memberId) {
      await this.link.emit("stop_screen_share", {}).catch(() => undefined);
    }
    this.fire("screen", { member_id: this.screenSharer, stopped_by: null });
  }

  /** Chair: stop whoever shares a screen. */
  async stopSomeonesScreen() {
    await this.link.emit("stop_screen_share", {});
  }

  /** @param {RTCPeerConnection} pc */
  releaseScreen(pc) {
    if (this.screenPc !== pc) return;
    pc.close();
    for (const t of this.screenStream?.getTracks() ?? []) t.stop();
    this.screenConfirmed = false;
    this.screenPc = null;
    this.screenStream = null;
  }

  /** Leave media: tell the server, close both connections, release the camera. */
  async close() {
    if (this.closed) return;
    this.closed = true;
    this.generation += 1;
    clearTimeout(this.recoveryTimer);
    clearInterval(this.inboundTimer);
    this.inboundTimer = undefined;
    for (const [event, fn] of Object.entries(this.handlers)) this.link.socket.off(event, fn);
    if (this.link.socket.connected && this.status.state !== "idle") {
      this.link.emit("media_close", {}).catch(() => undefined);
    }
    this.closePeers();
    this.stopLocal();
    if (this.screenPc) this.releaseScreen(this.screenPc);
    this.setState("closed");
  }

  // ---- publish side ---------------------------------------------------------------

  /** @param {number} generation */
  async publish(generation) {
    const wantVideo = this.cameraOn;
    if (!this.localStream || this.localStream.getVideoTracks().length !== (wantVideo ? 1 : 0)) {
      this.stopLocal();
      this.localStream = await this.getMedia(wantVideo);
      if (wantVideo && !this.localStream?.getVideoTracks().length) this.cameraOn = false;
      this.fire("local", { stream: this.localStream, blocked: this.status.cameraBlocked });
    }
    if (generation !== this.generation || !this.localStream) return;
    const pc = new RTCPeerConnection({ iceServers: this.iceServers });
    this.publishPc = pc;
    // One sending transceiver per kind, whatever the switches say: turning the camera
    // or the microphone on or off later is a replaceTrack, with no new negotiation.
    const stream = this.localStream;
    for (const kind of /** @type {const} */ (["audio", "video"])) {
      const track = kind === "audio" ? stream.getAudioTracks()[0] : stream.getVideoTracks()[0];
      const init = /** @type {RTCRtpTransceiverInit} */ ({ direction: "sendonly", streams: [stream] });
      const transceiver = kind === "video" ? addSimulcast(pc, track ?? kind, init) : pc.addTransceiver(track ?? kind, init);
      if (kind === "video") this.preferVp8(transceiver);
      else this.preferRed(transceiver);
      if (kind === "audio" && track && !this.micOn) await transceiver.sender.replaceTrack(null);
    }
    this.watch(pc, "publish", generation);
    /** @type {RTCIceCandidate[]} */
    const late = [];
    let answered = false;
    pc.addEventListener("icecandidate", (e) => {
      if (!e.candidate) return;
      if (answered) this.trickle("publish", e.candidate);
      else late.push(e.candidate);
    });
    mark("media:publish_offer");
    await pc.setLocalDescription(await pc.createOffer());
    await gathered(pc, GATHER_WAIT_MS);
    mark("media:publish_gathered");
    const sent = pc.localDescription?.sdp ?? "";
    try {
      const ack = await this.link.emit("publish_offer", { sdp: sent, type: "offer" });
      mark("media:publish_answer");
      if (generation !== this.generation) return;
      await pc.setRemoteDescription(ack.answer);
    } catch (err) {
      if (generation !== this.generation) return;
      this.status.error = err instanceof ApiError ? err : new ApiError("internal", String(err));
      this.scheduleRecovery(3000);
      return;
    }
    answered = true;
    for (const c of late) if (!sent.includes(c.candidate)) this.trickle("publish", c);
    const video = this.videoSender();
    if (video) await this.applyCap(video);
    this.sendSwitches();
  }

  /** @returns {RTCRtpSender | null} the publish connection's video sender */
  videoSender() {
    const t = this.publishPc?.getTransceivers().find((x) => x.receiver.track.kind === "video");
    return t?.sender ?? null;
  }

  /** @returns {RTCRtpSender | null} */
  audioSender() {
    const t = this.publishPc?.getTransceivers().find((x) => x.receiver.track.kind === "audio");
    return t?.sender ?? null;
  }

  /** Tell everyone our switches (shown on our tile on their screens). */
  sendSwitches() {
    if (this.display || this.closed || !this.link.socket.connected) return;
    this.link.emit("set_media_state", { microphone: this.micOn, camera: this.cameraOn }).catch(() => undefined);
  }

  /**
   * The member's microphone switch: off sends nothing (the other side sees no packets).
   * @param {boolean} on
   */
  async setMic(on) {
    if (this.display) return;
    this.micOn = on;
    const track = this.localStream?.getAudioTracks()[0] ?? null;
    const sender = this.audioSender();
    if (sender) await sender.replaceTrack(on ? track : null);
    this.fire("switches", { mic: this.micOn, camera: this.cameraOn });
    this.sendSwitches();
  }

  /**
   * The member's camera switch: off releases the camera; on asks for it again.
   * @param {boolean} on
   */
  async setCamera(on) {
    if (this.display) return;
    this.cameraOn = on;
    const sender = this.videoSender();
    if (!on) {
      for (const t of this.localStream?.getVideoTracks() ?? []) {
        t.stop();
        this.localStream?.removeTrack(t);
      }
      if (sender) await sender.replaceTrack(null);
    } else if (this.localStream && sender) {
      try {
        const cam = await navigator.mediaDevices.getUserMedia({ video: CAMERA });
        const track = cam.getVideoTracks()[0];
        if (!this.cameraOn) {
          track.stop();
          return;
        }
        this.localStream.addTrack(track);
        await sender.replaceTrack(track);
        await this.applyCap(sender);
        this.status.cameraBlocked = false;
      } catch {
        this.cameraOn = false;
        this.status.cameraBlocked = true;
        this.fireState();
      }
    } else {
      await this.start(); // nothing published yet: start over with the camera
      return;
    }
    this.fire("local", { stream: this.localStream, blocked: this.status.cameraBlocked });
    this.fire("switches", { mic: this.micOn, camera: this.cameraOn });
    this.sendSwitches();
  }

  /**
   * Camera and microphone (or microphone only); when the camera is refused, fall back
   * to the microphone and say so; when that fails too, publish nothing.
   * @param {boolean} wantVideo
   * @returns {Promise<MediaStream | null>}
   */
  async getMedia(wantVideo) {
    try {
      const stream = await navigator.mediaDevices.getUserMedia({ audio: true, video: wantVideo ? CAMERA : false });
      this.status.cameraBlocked = false;
      return stream;
    } catch {
      this.status.cameraBlocked = true;
    }
    if (!wantVideo) return null;
    try {
      return await navigator.mediaDevices.getUserMedia({ audio: true, video: false });
    } catch {
      return null;
    }
  }

  /** @param {RTCRtpTransceiver} transceiver */
  preferVp8(transceiver) {
    const caps = RTCRtpSender.getCapabilities?.("video");
    if (!caps || typeof transceiver.setCodecPreferences !== "function") return;
    const order = ["video/vp8", "video/h264", "video/rtx"];
    const codecs = caps.codecs
      .filter((c) => order.includes(c.mimeType.toLowerCase()))
      .sort((a, b) => order.indexOf(a.mimeType.toLowerCase()) - order.indexOf(b.mimeType.toLowerCase()));
    if (codecs.length) transceiver.setCodecPreferences(codecs);
  }

  /**
   * Offer RED (RFC 2198: each packet also carries the previous one) ahead of Opus: a
   * browser sends RED only when it comes first in its own codec order, and then only if
   * the server's answer keeps it (docs/media.md, "Audio on lossy links").
   * @param {RTCRtpTransceiver} transceiver
   */
  preferRed(transceiver) {
    const caps = RTCRtpSender.getCapabilities?.("audio");
    if (!caps || typeof transceiver.setCodecPreferences !== "function") return;
    const rank = (/** @type {RTCRtpCodec} */ c) => {
      const mime = c.mimeType.toLowerCase();
      return mime === "audio/red" ? 0 : mime === "audio/opus" ? 1 : 2;
    };
    const codecs = [...caps.codecs].sort((a, b) => rank(a) - rank(b));
    if (codecs.length && rank(codecs[0]) === 0) transceiver.setCodecPreferences(codecs);
  }

  /** @param {RTCRtpSender} sender */
  async applyCap(sender) {
    const params = sender.getParameters();
    if (!params.encodings || !params.encodings.length) params.encodings = [{}];
    const cap = UPLINK_CAPS[this.cap];
    for (const enc of params.encodings) {
      const layer = SIMULCAST.find((e) => e.rid === enc.rid);
      if (layer) {  // simulcast: the cap leaves out the layers finer than it allows
        enc.maxBitrate = layer.maxBitrate;
        enc.scaleResolutionDownBy = layer.scaleResolutionDownBy;
        enc.active = (layer.scaleResolutionDownBy ?? 1) >= (cap.scaleResolutionDownBy ?? 1);
        continue;
      }
      if (cap.maxBitrate) enc.maxBitrate = cap.maxBitrate;
      else delete enc.maxBitrate;
      enc.scaleResolutionDownBy = cap.scaleResolutionDownBy ?? 1;
    }
    try {
      await sender.setParameters(params);
    } catch (err) {
      console.warn("media: cannot cap the sender", err);
    }
  }

  stopLocal() {
    for (const track of this.localStream?.getTracks() ?? []) track.stop();
    this.localStream = null;
  }

  // ---- subscribe side -------------------------------------------------------------

  /** @param {{sdp: string, type: "offer", streams: StreamEntry[], new_connection: boolean}} offer */
  onOffer(offer) {
    const generation = this.generation;
    this.offerChain = this.offerChain.then(() => this.applyOffer(offer, generation)).catch((err) => {
      console.warn("media: subscribe offer failed", err);
      this.scheduleRecovery(2000);
    });
  }

  /**
   * @param {{sdp: string, type: "offer", streams: StreamEntry[], new_connection: boolean}} offer
   * @param {number} generation
   */
  async applyOffer(offer, generation) {
    if (generation !== this.generation || this.closed) return;
    let pc = this.subscribePc;
    if (offer.new_connection || !pc) {
      pc?.close();
      pc = new RTCPeerConnection({ iceServers: this.iceServers });
      this.subscribePc = pc;
      this.watch(pc, "subscribe", generation);
      const fresh = pc;
      fresh.addEventListener("track", () => this.fire("remote", this.remote()));
      fresh.addEventListener("icecandidate", (e) => {
        if (e.candidate && fresh.remoteDescription && fresh.signalingState === "stable") this.trickle("subscribe", e.candidate);
      });
    }
    this.streams = new Map(offer.streams.map((s) => [s.mid, s]));
    mark("media:subscribe_offer");
    await pc.setRemoteDescription({ type: "offer", sdp: offer.sdp });
    await pc.setLocalDescription(await pc.createAnswer());
    await gathered(pc, GATHER_WAIT_MS);
    mark("media:subscribe_answer");
    if (generation !== this.generation) return;
    await this.link.emit("subscribe_answer", { sdp: pc.localDescription?.sdp ?? "", type: "answer" });
    this.fire("remote", this.remote());
    this.updateState();
  }

  // ---- connection state and recovery ------------------------------------------------

  /**
   * @param {RTCPeerConnection} pc
   * @param {"publish" | "subscribe"} target
   * @param {number} generation
   */
  watch(pc, target, generation) {
    /** @type {ReturnType<typeof setTimeout> | undefined} */
    let grace;
    pc.addEventListener("connectionstatechange", () => {
      if (generation !== this.generation || this.closed) return;
      const state = pc.connectionState;
      if (state === "connected") mark(`media:${target}_connected`);
      clearTimeout(grace);
      if (state === "failed") {
        this.setState("reconnecting");
        this.scheduleRecovery(500);
      } else if (state === "disconnected") {
        this.setState("reconnecting");
        grace = setTimeout(() => {
          if (pc.connectionState !== "connected") this.scheduleRecovery(0);
        }, DISCONNECTED_GRACE_MS);
      } else {
        this.updateState();
      }
    });
  }

  /** @param {number} delayMs start over (media_open, new connections) after a pause */
  scheduleRecovery(delayMs) {
    if (this.closed) return;
    clearTimeout(this.recoveryTimer);
    if (this.everConnected) this.setState("reconnecting");
    this.recoveryTimer = setTimeout(() => {
      if (this.closed) return;
      if (this.link.status.state !== "connected") return; // the link re-joins, then restarts us
      this.start();
    }, delayMs);
  }

  /** connected when each connection we need is connected */
  updateState() {
    if (this.closed || this.status.state === "idle" && this.generation === 0) return;
    const needed = [this.publishPc, this.subscribePc].filter((pc) => pc !== null);
    const states = needed.map((pc) => /** @type {RTCPeerConnection} */ (pc).connectionState);
    if (states.every((s) => s === "connected")) {
      this.everConnected = true;
      this.setState(this.stalled ? "reconnecting" : "connected"); // never "connected" over a dead link
    } else if (states.some((s) => s === "failed" || s === "disconnected")) {
      this.setState("reconnecting");
    } else if (this.status.state !== "reconnecting") {
      this.setState(this.everConnected ? "reconnecting" : "connecting");
    }
  }

  closePeers() {
    this.inboundLast = { total: -1, at: performance.now() };
    this.videoLast = new Map();
    this.publishPc?.close();
    this.subscribePc?.close();
    this.publishPc = this.subscribePc = null;
    this.streams = new Map();
    this.offerChain = Promise.resolve();
    this.fire("remote", new Map());
  }

  /**
   * @param {"publish" | "subscribe" | "screen"} target
   * @param {RTCIceCandidate} candidate
   */
  trickle(target, candidate) {
    const c = candidate.toJSON();
    this.link.emit("ice_candidate", {
      target, candidate: { candidate: c.candidate ?? "", sdpMid: c.sdpMid ?? null, sdpMLineIndex: c.sdpMLineIndex ?? null },
    }).catch(() => undefined); // a late candidate for a replaced connection
  }

  profileValue() {
    return this.profile === "last_n" ? { mode: "last_n", n: 3 } : this.profile;
  }

  // ---- server facts -------------------------------------------------------------------

  /**
   * @param {string} event
   * @param {any} data
   */
  onServerEvent(event, data) {
    if (this.closed) return;
    switch (event) {
      case "subscribe_offer":
        this.onOffer(data);
        break;
      case "publication_changed":
        if (data.audio || data.video) this.publications.set(data.member_id, data);
        else this.publications.delete(data.member_id);
        this.fire("publication", data);
        break;
      case "participant_muted": {
        const pub = this.publications.get(data.member_id);
        if (pub) pub.muted = data.muted;
        this.fire("muted", data);
        break;
      }
      case "screen_share_changed":
        this.screenSharer = data.member_id ?? null;
        // the chair stopped our share (or it ended on the server): release the screen
        if (this.screenPc && this.screenSharer === this.memberId) this.screenConfirmed = true;
        else if (this.screenPc && this.screenConfirmed) this.releaseScreen(this.screenPc);
        this.fire("screen", data);
        break;
      case "spotlight_changed":
        this.spotlight = data.member_id;
        this.fire("spotlight", data);
        break;
      case "active_speaker_changed":
        this.activeSpeaker = data.member_id;
        this.fire("speaker", data);
        break;
      case "media_weak_link":
        this.weakLink = { weak: Boolean(data.weak), reason: data.reason ?? null, auto: Boolean(data.auto), retry_seconds: Number(data.retry_seconds) || 0 };
        this.fire("weaklink", this.weakLink);
        break;
      case "media_quality":
        this.quality = new Map((data.participants || []).map((/** @type {QualityRow} */ r) => [r.member_id, r]));
        this.fire("quality", data.participants);
        break;
      case "media_closed":
        if (data && data.reason === "owner_changed") {
          // the meeting moved to another server node: open the media again, there
          this.generation += 1;
          this.closePeers();
          this.scheduleRecovery(0);
          break;
        }
        // another device (or tab) of ours took the media over, with the member's yes
        this.generation += 1;
        clearTimeout(this.recoveryTimer);
        this.closePeers();
        this.stopLocal();
        this.setStalled(false);
        this.setState("moved");
        this.fire("closed", data);
        break;
      default:
        break;
    }
  }

  /** @param {MediaState} state */
  setState(state) {
    if (this.status.state === state) return;
    this.status = { ...this.status, state };
    this.fireState();
  }

  fireState() {
    this.fire("state", this.status);
  }

  /**
   * @param {string} type
   * @param {unknown} detail
   */
  fire(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }
}
