// One camera tile: its DOM, its session (WebRTC or JPEG) and the rules for
// recovering it.

import { CODEC_REFUSED, WhepSession, browserDecodes, browserDecodesH264, whepEndpoint } from './whep.js';
import {
  JpegSocket, JpegView, MjpegStream, SnapshotLoop, downloadSnapshot, mjpegEndpoint, snapshotEndpoint, wsEndpoint,
} from './jpeg.js';
import { Overlay, PlayoutSync } from './overlay.js';
import { chooseStream, streamStatus, warmPeerConnection, withStream } from './streams.js';
import { healthOf, problemWords, retryNow, stateWords, whenWords } from './status.js';

/**
 * STALE_MS: a picture that has not changed for this long gets the "No new
 * picture" overlay and data-stale="true", well before STALL_MS starts the
 * session over.
 */
export const STALE_MS = 5000;

// requestVideoFrameCallback reports each picture as it is shown; where a
// browser lacks it, decoded-frame statistics stand in.
const HAS_RVFC = typeof HTMLVideoElement !== 'undefined' && 'requestVideoFrameCallback' in HTMLVideoElement.prototype;

const LIVE_TIMEOUT_MS = 10000; // connect → first decoded frame, or start over
const FALLBACK_MS = 5000; // auto: WebRTC not live this long → JPEG over WebSocket
/** H265_REASON is what a tile says when it plays an H.265 camera over JPEG. */
const H265_REASON = 'H.265: this browser cannot play it over WebRTC';
const DISCONNECT_GRACE_MS = 3000; // ICE may recover from 'disconnected' by itself
const BACKOFF_MIN_MS = 1000;
const BACKOFF_MAX_MS = 15000;
const STATS_EVERY_MS = 2000;
const WARM_WITHIN_MS = 2000; // warmSoon: at the latest this long after the tile went live
const STALL_MS = 10000; // a live tile whose decoder stops this long starts over
const REPORTS_SILENT_MS = 3500; // checkStats: the server's reports on the track stopped this long
const STALE_TICK_MS = 1000; // how often the stale check (and its counter) runs
const SNAPSHOT_MSG_MS = 5000;
const SNAPSHOT_EVERY_MS = 2000; // snapshot grid: one picture per tile this often

// JPEG requests: the grid asks for small frames at a low rate to spare the
// server's encoder and the network; full size gets the server's defaults.
// meta=1: each JPEG comes with its frame's timestamp, for the overlay.
const GRID_JPEG = { width: 640, fps: 5, meta: 1 };
const SINGLE_JPEG = { meta: 1 };
const GRID_MJPEG = { width: 640, fps: 5 };
const SINGLE_MJPEG = {};
const GRID_SNAPSHOT = { width: 640 };

/** TRANSPORTS are the user's choices; 'auto' is WebRTC with a JPEG fallback. */
export const TRANSPORTS = ['auto', 'webrtc', 'ws', 'mjpeg'];

/**
 * GRID_MODES say what the grid's tiles show: 'live' plays every tile over the
 * chosen transport; 'snapshots' shows a snapshot every 2 s in the grid, for
 * weak displays, and plays live only the camera shown full size.
 */
export const GRID_MODES = ['live', 'snapshots'];

// What the operator gets, not the protocol: the protocol is in the title.
const TRANSPORT_TEXT = {
  webrtc: 'Smooth', ws: 'Compatible', mjpeg: 'Basic', snapshot: `Still · every ${SNAPSHOT_EVERY_MS / 1000} s`,
};
const TRANSPORT_TITLE = {
  webrtc: 'Smooth: full-rate video (WebRTC)',
  ws: 'Compatible: pictures over a WebSocket (JPEG), for networks or browsers where Smooth does not play',
  mjpeg: 'Basic: Motion JPEG, for old browsers',
  snapshot: `A still picture every ${SNAPSHOT_EVERY_MS / 1000} s; open the camera for live video`,
};

const BADGE_TEXT = {
  connecting: 'connecting',
  live: 'live',
  offline: 'camera offline',
  reconnecting: 'reconnecting',
};

/**
 * Tile shows one camera. Its element carries data-camera (the name),
 * data-state (connecting | live | offline | reconnecting), data-transport
 * (webrtc | ws | mjpeg | snapshot: what it plays over right now),
 * data-stream (main | sub: which of the camera's streams it plays) and
 * data-stale="true" while the picture on screen has not changed for STALE_MS
 * (absent otherwise).
 */
export class Tile {
  /**
   * @param {object} cam camera object from GET /api/cameras
   * @param {{onActivate: (name: string) => void, onState: () => void, gridSize?: () => number,
   *   wall?: import('./whep.js').WhepWall}} hooks wall, if given, gathers the WebRTC sessions of
   *   grid tiles starting together into one peer connection
   * @param {{transport?: string, grid?: string, single?: boolean}} opts transport is one of
   *   TRANSPORTS, grid one of GRID_MODES
   */
  constructor(cam, hooks, opts = {}) {
    this.name = cam.name;
    this.hooks = hooks;
    this.api = cam;
    this.mode = TRANSPORTS.includes(opts.transport) ? opts.transport : 'auto';
    this.grid = GRID_MODES.includes(opts.grid) ? opts.grid : 'live';
    this.single = Boolean(opts.single); // shown full size: JPEG at full size
    this.stream = chooseStream(cam, this.single); // 'main' | 'sub': what it plays (data-stream)
    this.fellBack = false; // auto gave up on WebRTC; stays until the mode changes
    this.webrtcWorked = false; // WebRTC was live here under the current mode
    this.fallbackReason = '';
    // The fallback is for the codec of the stream played ('main:H265'),
    // which this browser cannot play over WebRTC: the tile says so while
    // it plays JPEG. Empty for any other fallback.
    this.codecFallback = '';
    this.jpegInfo = null; // the server's info message of the current socket
    this.lastFrameAt = 0; // JPEG socket: last frame received
    this.pictureAt = 0; // when the picture on screen last changed; 0: none shown
    this.pictureOn = ''; // element showing that picture: 'video' | 'jpeg' | ''
    this.stale = false; // data-stale: the picture is older than STALE_MS
    this.snapKey = ''; // snapshot grid: the picture on screen, so it is not counted twice
    this.serverDown = false; // the camera list cannot be fetched
    this.snapBusy = false;
    this.conn = 'connecting'; // our own view: connecting | live | reconnecting
    this.lastError = '';
    this.failures = 0;
    this.backoff = BACKOFF_MIN_MS;
    this.session = null;
    // A tile that switches stream (sub in the grid, main full size) keeps a
    // peer connection gathered ahead for its next WebRTC session.
    this.warmPc = null;
    this.cancelWarm = null; // cancels a warmSoon() still to come
    this.gen = 0; // bumps on every attempt so stale callbacks can tell
    this.streamGen = -1; // gen whose stream the <video> shows
    this.stopped = true;
    this.timers = { retry: 0, live: 0, grace: 0, stats: 0, fallback: 0, snapMsg: 0, stale: 0 };
    this.frames = { count: 0, changedAt: 0 };
    this.reports = { count: 0, changedAt: 0 }; // the server's sender reports on the track
    this.build();
    this.render();
  }

  build() {
    const el = part('article', 'tile');
    el.dataset.camera = this.name;
    el.tabIndex = 0;
    // Not role=button: a button's content is flattened for assistive tech,
    // which would hide the snapshot button inside. Enter still opens it.
    el.setAttribute('role', 'group');
    el.setAttribute('aria-keyshortcuts', 'Enter');

    const frame = part('div', 'frame');
    const video = part('video', 'cam-video');
    // Attributes as well as properties: autoplay of muted inline video is
    // what every browser allows without a user gesture.
    for (const attr of ['muted', 'autoplay', 'playsinline']) video.setAttribute(attr, '');
    video.muted = true;
    video.autoplay = true;
    video.playsInline = true;
    video.disablePictureInPicture = true;
    const jpeg = part('img', 'cam-jpeg');
    jpeg.alt = '';
    jpeg.decoding = 'async';
    // Over the picture, under the badges: says the picture is frozen.
    const stale = part('div', 'stale');
    stale.hidden = true;
    const staleTitle = part('p', 'stale-title');
    const staleDetail = part('p', 'stale-detail');
    stale.append(staleTitle, staleDetail);
    // Over the picture: why the camera shows nothing, what to check, since
    // when, and a way to make the server try again now.
    const problem = part('div', 'problem');
    problem.hidden = true;
    const problemTitle = part('p', 'problem-title');
    const problemHint = part('p', 'problem-hint');
    const problemWhen = part('p', 'problem-when');
    const retry = document.createElement('button');
    retry.type = 'button';
    retry.className = 'btn retry';
    retry.textContent = 'Retry now';
    retry.setAttribute('aria-label', `Ask the server to connect to ${this.name} again now`);
    const problemRaw = part('p', 'problem-raw');
    problem.append(problemTitle, problemHint, problemWhen, retry, problemRaw);
    const badge = part('span', 'badge');
    const transport = part('span', 'transport');
    // Over the picture, under the stale overlay: what models found in it.
    const models = part('span', 'models');
    models.hidden = true;
    const overlay = new Overlay(frame, models, this.name);
    frame.append(video, jpeg, overlay.canvas, stale, problem, badge, transport, models);

    const meta = part('div', 'meta');
    const title = part('h2', 'name');
    title.textContent = this.name;
    const info = part('p', 'info');
    const reason = part('p', 'reason');
    const actions = part('div', 'actions');
    const snap = document.createElement('button');
    snap.type = 'button';
    snap.className = 'btn snap';
    snap.textContent = 'Save picture';
    snap.setAttribute('aria-label', `Save the current picture of ${this.name}`);
    const boxes = document.createElement('button');
    boxes.type = 'button';
    boxes.className = 'btn boxes';
    boxes.textContent = 'Boxes';
    boxes.setAttribute('aria-pressed', 'true');
    boxes.setAttribute('aria-label', `Show what vision models found on ${this.name}`);
    actions.append(boxes, snap);
    const head = part('div', 'head');
    head.append(title, actions);
    const snapMsg = part('p', 'snap-msg');
    snapMsg.setAttribute('role', 'status');
    meta.append(head, info, reason, snapMsg);

    el.append(frame, meta);
    this.el = el;
    this.video = video;
    this.view = new JpegView(jpeg);
    this.badge = badge;
    this.staleBox = stale;
    this.staleTitle = staleTitle;
    this.staleDetail = staleDetail;
    this.problem = { box: problem, title: problemTitle, hint: problemHint, when: problemWhen, retry, raw: problemRaw };
    this.transportLabel = transport;
    this.info = info;
    this.reason = reason;
    this.snapButton = snap;
    this.snapMsg = snapMsg;
    this.overlay = overlay;
    // Detections may free a JPEG frame held for them.
    overlay.onAdd = () => this.session?.recheck?.();
    this.sync = null; // PlayoutSync of the WebRTC session
    this.boxesButton = boxes;

    // The snapshot button lives inside the clickable tile: its clicks must
    // not open the camera. Its keys never reach the tile's handler below,
    // which only acts on keys aimed at the tile itself.
    retry.addEventListener('click', async (ev) => {
      ev.stopPropagation();
      retry.disabled = true;
      const err = await retryNow(this.name);
      retry.disabled = false;
      setText(problemWhen, err || 'trying again now');
    });
    snap.addEventListener('click', (ev) => {
      ev.stopPropagation();
      this.snapshot();
    });
    boxes.addEventListener('click', (ev) => {
      ev.stopPropagation();
      const on = !overlay.enabled;
      overlay.setEnabled(on);
      boxes.setAttribute('aria-pressed', String(on));
      el.dataset.overlay = on ? 'on' : 'off';
    });
    el.addEventListener('click', () => this.hooks.onActivate(this.name));
    el.addEventListener('keydown', (ev) => {
      if (ev.target !== el || ev.altKey || ev.ctrlKey || ev.metaKey) return;
      if (ev.key === 'Enter' || ev.key === ' ') {
        ev.preventDefault();
        this.hooks.onActivate(this.name);
      }
    });

    const maybeLive = () => {
      if (this.streamGen === this.gen && this.transport === 'webrtc' && video.videoWidth > 0) this.sawFrame(this.gen);
    };
    for (const type of ['playing', 'resize', 'loadeddata']) video.addEventListener(type, maybeLive);
  }

  /** state is what data-state shows. */
  get state() {
    return this.apiOffline() ? 'offline' : this.conn;
  }

  /** transport is what the tile plays over now (data-transport). */
  get transport() {
    if (this.grid === 'snapshots' && !this.single) return 'snapshot';
    if (this.mode === 'auto') return this.fellBack ? 'ws' : 'webrtc';
    return this.mode;
  }

  /** status is the API's health of the stream the tile plays. */
  get status() {
    return streamStatus(this.api, this.stream);
  }

  apiOffline() {
    const health = healthOf(this.status);
    return health === 'offline' || health === 'disabled';
  }

  /**
   * pickStream sets the stream the tile plays now (see streams.js) and
   * reports whether it changed.
   */
  pickStream() {
    const want = chooseStream(this.api, this.single, this.stream);
    if (want === this.stream) return false;
    this.stream = want;
    return true;
  }

  /** codec is the codec of the stream the tile plays, as the API names it. */
  codec() {
    return this.status.codec || '';
  }

  /**
   * codecFallbackOver ends a fallback to JPEG made for a codec once the
   * tile plays another stream or the stream another codec (a camera whose
   * main stream is H.265 and sub-stream H.264 is common), and reports
   * whether it did.
   */
  codecFallbackOver() {
    // An unknown codec (a stream not pulled yet) changes nothing.
    if (!this.codecFallback || !this.codec() || this.codecFallback === `${this.stream}:${this.codec()}`) return false;
    this.fellBack = false;
    this.codecFallback = '';
    this.fallbackReason = '';
    return true;
  }

  /** update takes a fresh camera object from the API poll. */
  update(cam) {
    const wasOffline = this.apiOffline();
    this.api = cam;
    // A stream went down or came back: play the one to play now. A stream
    // switched to a codec this browser may play over WebRTC: auto tries
    // WebRTC again.
    if (this.pickStream() || this.codecFallbackOver()) {
      this.restart();
      return;
    }
    this.render();
    // The camera came back while we sat in a slow offline backoff: try now
    // instead of waiting out up to 15 s.
    if (wasOffline && !this.apiOffline() && !this.stopped && this.session === null) {
      this.backoff = BACKOFF_MIN_MS;
      this.connect();
    }
  }

  /**
   * setServerDown says whether the page can reach the server. When it comes
   * back (a daemon restart, a network blip) a tile waiting out its backoff
   * tries again at once.
   */
  setServerDown(down) {
    if (down === this.serverDown) return;
    this.serverDown = down;
    if (!down && !this.stopped && this.session === null && this.timers.retry) {
      this.backoff = BACKOFF_MIN_MS;
      this.connect();
      return;
    }
    this.render();
  }

  /** start begins (or resumes) connecting. */
  start() {
    if (!this.stopped) return;
    this.stopped = false;
    // The picture left from before the pause is not stale yet: give the new
    // session STALE_MS to replace it.
    if (this.pictureAt) this.pictureAt = performance.now();
    this.timers.stale = setInterval(() => this.checkStale(), STALE_TICK_MS);
    this.connect();
  }

  /**
   * stop ends the session (DELETE + close) and stops retrying; start() picks
   * up again from a fresh first attempt, on the same transport.
   */
  stop() {
    if (this.stopped) return;
    this.stopped = true;
    this.gen++;
    this.teardown();
    clearTimeout(this.timers.retry);
    clearInterval(this.timers.stale);
    this.timers.retry = this.timers.stale = 0;
    this.failures = 0;
    this.backoff = BACKOFF_MIN_MS;
    this.lastError = '';
    this.stale = false;
    this.conn = 'connecting';
    this.cancelWarm?.();
    this.cancelWarm = null;
    this.warmPc?.close();
    this.warmPc = null;
    this.render();
    this.hooks.onState();
  }

  /**
   * warmSoon gathers a peer connection for the switch to the other stream
   * once the page has nothing else to do: made as each tile of a wall went
   * live, sixteen of them gathering at once held up the wall's last first
   * pictures.
   */
  warmSoon() {
    if (this.cancelWarm) return;
    const warm = () => {
      this.cancelWarm = null;
      if (!this.stopped && !this.warmPc && this.api.sub) this.warmPc = warmPeerConnection();
    };
    if (typeof requestIdleCallback === 'function') {
      const id = requestIdleCallback(warm, { timeout: WARM_WITHIN_MS });
      this.cancelWarm = () => cancelIdleCallback(id);
    } else {
      const id = setTimeout(warm, WARM_WITHIN_MS / 4);
      this.cancelWarm = () => clearTimeout(id);
    }
  }

  /** destroy stops the tile and removes it from the page. */
  destroy() {
    this.stop();
    clearTimeout(this.timers.snapMsg);
    this.video.srcObject = null;
    this.view.clear();
    this.el.remove();
  }

  /**
   * setVisible shows or hides the tile, and runs it or stops it (by default,
   * exactly when it is shown). The single-camera view hides the others, which
   * frees their viewer slots and the display machine's decoders for the one
   * camera being watched; a hidden browser tab keeps its tiles shown but
   * stopped.
   */
  setVisible(visible, running = visible) {
    this.el.hidden = !visible;
    if (running) this.start();
    else this.stop();
  }

  /**
   * setTransport switches to one of TRANSPORTS and reconnects. Auto starts
   * over with WebRTC.
   */
  setTransport(mode) {
    if (!TRANSPORTS.includes(mode) || mode === this.mode) return;
    const before = this.transport;
    this.mode = mode;
    this.fellBack = false;
    this.webrtcWorked = false;
    this.fallbackReason = '';
    this.codecFallback = '';
    // A snapshot grid tile keeps its snapshots; the mode applies full size.
    if (before === 'snapshot') this.render();
    else this.restart();
  }

  /**
   * setGrid switches between GRID_MODES. Only tiles in the grid change what
   * they play; the full-size one keeps playing.
   */
  setGrid(grid) {
    if (!GRID_MODES.includes(grid) || grid === this.grid) return;
    const before = this.transport;
    this.grid = grid;
    if (this.transport !== before) this.restart();
  }

  /**
   * setSingle says whether the tile is the full-size view. JPEG streams are
   * requested smaller in the grid and a snapshot grid plays live only full
   * size, so those reconnect; WebRTC in both is unaffected.
   */
  setSingle(single) {
    if (single === this.single) return;
    const before = this.transport;
    this.single = single;
    // A camera with a sub-stream changes stream too (grid: sub, full: main).
    const switched = this.pickStream();
    if (switched || before !== 'webrtc' || this.transport !== 'webrtc') this.restart();
  }

  /** jpegParams adds the stream the tile plays to a JPEG request's query. */
  jpegParams(params) {
    return this.stream === 'sub' ? { ...params, stream: 'sub' } : params;
  }

  /**
   * framePts is the pts the overlay may match detections by: models name
   * frames of the main stream, so a sub-stream's pictures get the newest
   * detections instead (null).
   */
  framePts(pts) {
    return this.stream === 'main' && typeof pts === 'number' ? pts : null;
  }

  restart() {
    clearTimeout(this.timers.retry);
    this.failures = 0;
    this.backoff = BACKOFF_MIN_MS;
    this.lastError = '';
    if (this.stopped) {
      this.render();
      return;
    }
    this.connect();
  }

  connect() {
    clearTimeout(this.timers.retry);
    this.teardown();
    if (this.stopped) return;
    this.codecFallbackOver();
    const gen = ++this.gen;
    this.setConn(this.failures > 0 ? 'reconnecting' : 'connecting');
    const transport = this.transport;
    // Each element shows only its own transport's picture. Within one
    // transport the last picture stays up until the new session shows one.
    const on = pictureElement(transport);
    if (on === 'video') this.view.clear();
    else this.video.srcObject = null;
    if (this.pictureOn !== on) this.dropPicture();
    this.render();
    if (transport === 'webrtc') this.connectWebRTC(gen);
    else if (transport === 'ws') this.connectSocket(gen);
    else if (transport === 'snapshot') this.connectSnapshot(gen);
    else this.connectMjpeg(gen);
  }

  // dropPicture notes that no picture is on screen any more.
  dropPicture() {
    this.pictureAt = 0;
    this.pictureOn = '';
    this.checkStale();
  }

  /**
   * sawFrame records a new picture on screen: it makes the tile live and
   * restarts the stale clock.
   */
  sawFrame(gen) {
    if (gen !== this.gen || this.stopped) return;
    this.pictureAt = performance.now();
    this.pictureOn = pictureElement(this.transport);
    this.markLive(gen);
    if (this.stale) this.checkStale();
  }

  // checkStale raises or clears the stale overlay and keeps its counter
  // current. It runs every STALE_TICK_MS while the tile runs.
  checkStale() {
    const age = this.pictureAt ? performance.now() - this.pictureAt : 0;
    // The server says "stale" as soon as the camera stops sending
    // (stale_after, 2 s by default): trust it before our own 5 s clock.
    const serverStale = this.status?.state === 'stale' && age >= 1000;
    const stale = !this.stopped && this.pictureAt > 0 && (age >= STALE_MS || serverStale);
    if (stale !== this.stale) {
      this.stale = stale;
      this.render();
      this.hooks.onState();
    } else if (stale) {
      this.renderStale();
    }
    if (!this.problem.box.hidden) this.renderProblem(); // its clocks run
  }

  /**
   * inWall says whether the tile's next WebRTC session is one of a wall of
   * several cameras. It then starts on the camera's keyframe alone: the
   * browser decodes one frame per camera to show the wall, not up to a GOP
   * each, which on a weak display is what keeps the last tiles waiting;
   * the picture stands still until the camera's next keyframe. And it
   * shares one peer connection with the tiles starting with it (WhepWall):
   * one offer and one handshake for the wall (docs/performance.md).
   */
  inWall() {
    return !this.single && this.hooks.gridSize?.() > 1;
  }

  /** whepURL is where the tile posts its offer for a session of its own. */
  whepURL() {
    const url = withStream(whepEndpoint(this.name), this.stream);
    if (!this.inWall()) return url;
    return `${url}${url.includes('?') ? '&' : '?'}start=keyframe`;
  }

  /**
   * newSession is the tile's next WebRTC session: in the wall's shared
   * peer connection when it can be (an H.264 stream, a wall, not a retry
   * of a shared offer that failed), otherwise one of its own.
   */
  newSession(alone) {
    const wall = this.hooks.wall;
    if (wall && !alone && this.inWall() && this.codec() === 'H264') {
      return wall.session(this.name, this.stream, 'keyframe');
    }
    const session = new WhepSession(this.whepURL(), this.warmPc);
    this.warmPc = null;
    return session;
  }

  connectWebRTC(gen, alone = false) {
    // A camera that is down sends nothing to play: the tile waits for the
    // camera list to say it is back (update() connects then), as a
    // snapshot tile does. A session started anyway would also keep the
    // page loading: a <video> given a stream holds the page's load event
    // until its first frame, and the page starts its tiles before that
    // event, as its scripts run.
    if (this.apiOffline()) {
      this.fail(gen, 'camera offline');
      return;
    }
    const auto = this.mode === 'auto';
    if (auto && typeof RTCPeerConnection !== 'function') {
      this.fallBack(gen, 'this browser has no WebRTC');
      return;
    }
    if (auto && this.codec() === 'H265' && browserDecodes('H265') === false) {
      this.fallBack(gen, H265_REASON, true);
      return;
    }
    if (auto && this.codec() !== 'H265' && browserDecodesH264() === false) {
      this.fallBack(gen, 'this browser cannot decode H.264 over WebRTC');
      return;
    }
    let session;
    try {
      session = this.newSession(alone);
    } catch (err) {
      const reason = `WebRTC unavailable: ${err?.message ?? err}`;
      if (auto) this.fallBack(gen, reason);
      else this.fail(gen, reason);
      return;
    }
    this.session = session;
    const pc = session.pc;
    this.mark('webrtc', gen);
    session.onStage = (stage) => this.mark(stage, gen);
    pc.addEventListener('track', (ev) => {
      // A shared peer connection has the other tiles' tracks too.
      if (!session.transceiver || ev.transceiver === session.transceiver) this.attach(gen, ev);
    });
    pc.addEventListener('connectionstatechange', () => this.onConnectionState(gen, pc));
    pc.addEventListener('iceconnectionstatechange', () => {
      if (pc.iceConnectionState === 'connected') this.mark('ice-connected', gen);
    });
    this.timers.live = setTimeout(() => this.fail(gen, 'no video within 10 s'), LIVE_TIMEOUT_MS);
    if (auto && !this.webrtcWorked) {
      this.timers.fallback = setTimeout(() => {
        // A camera that is not streaming delays WebRTC and JPEG alike;
        // only a camera that streams says WebRTC itself is the problem.
        if (gen === this.gen && this.status.state === 'streaming') this.fallBack(gen, 'no video within 5 s');
      }, FALLBACK_MS);
    }

    const started = session.start();
    // The <video> gets the track at once, not at the answer's track event:
    // its player is then ready for the first frame. Set up later, it can
    // miss that frame, and after a keyframe start (whepURL) that leaves the
    // tile blank until the camera's next keyframe.
    const receiver = session.receiver;
    if (receiver?.track) this.attach(gen, { track: receiver.track, streams: [] });
    started.then(
      () => {
        if (gen !== this.gen) return;
        this.timers.stats = setInterval(() => this.checkStats(gen, receiver), STATS_EVERY_MS);
        // Detections name main-stream frames; nothing to sync the sub-stream to.
        if (this.stream === 'main') this.sync = new PlayoutSync(receiver, this.overlay);
      },
      (err) => {
        if (gen !== this.gen) return;
        if (err?.alone) {
          // The wall's shared offer failed, not this camera: try again at
          // once on a session of the tile's own, which says what is wrong
          // with this camera if anything is.
          this.teardown();
          this.connectWebRTC(++this.gen, true);
          return;
        }
        const reason = err?.message ?? String(err);
        // 5xx: the server cannot serve WebRTC now (e.g. no sessions left);
        // 406: this browser cannot take the camera's codec over WebRTC.
        if (auto && err?.status === CODEC_REFUSED) this.fallBack(gen, reason, true);
        else if (auto && err?.status >= 500) this.fallBack(gen, reason);
        else this.fail(gen, reason);
      },
    );
  }

  connectSocket(gen) {
    this.jpegInfo = null;
    // The stall clock starts now; checkSocket holds it while the camera
    // itself is not streaming.
    this.lastFrameAt = performance.now();
    let sock;
    try {
      sock = new JpegSocket(wsEndpoint(this.name, this.jpegParams(this.single ? SINGLE_JPEG : GRID_JPEG)), this.view, {
        onInfo: (info) => {
          if (gen !== this.gen) return;
          this.jpegInfo = info;
          this.render();
        },
        onReceive: () => {
          if (gen === this.gen) this.lastFrameAt = performance.now();
        },
        onFrame: (meta, heldMs) => {
          if (gen !== this.gen) return;
          this.overlay.held(heldMs);
          this.overlay.show(this.framePts(meta?.pts), this.view.img);
          this.sawFrame(gen);
        },
        onEnd: (reason) => this.fail(gen, reason),
        // While a model answers, each frame waits for its boxes.
        ready: (meta) => this.stream !== 'main' || this.overlay.ready(meta?.pts),
      });
    } catch (err) {
      this.fail(gen, `WebSocket unavailable: ${err?.message ?? err}`);
      return;
    }
    this.session = sock;
    this.timers.stats = setInterval(() => this.checkSocket(gen), STATS_EVERY_MS);
  }

  // checkSocket restarts a socket that gets no frames while the camera
  // streams. While the camera is offline the server keeps the socket open
  // and silent, which is no fault of the socket.
  checkSocket(gen) {
    if (gen !== this.gen) return;
    const now = performance.now();
    if (this.status.state !== 'streaming') {
      this.lastFrameAt = now;
      return;
    }
    if (now - this.lastFrameAt > STALL_MS) {
      this.fail(gen, this.conn === 'live' ? 'video stalled' : 'no video within 10 s');
    }
  }

  // connectSnapshot shows a fresh snapshot every SNAPSHOT_EVERY_MS. A failed
  // request (a 503 with its reason, say) ends the loop and the tile retries
  // like any other session, no sooner than the server's Retry-After.
  connectSnapshot(gen) {
    // The server would answer 503 for a camera that is down; wait for the
    // camera list to say it is back (update() reconnects then).
    if (this.apiOffline()) {
      this.fail(gen, 'camera offline');
      return;
    }
    this.session = new SnapshotLoop(snapshotEndpoint(this.name, this.jpegParams(GRID_SNAPSHOT)), this.view, {
      everyMs: SNAPSHOT_EVERY_MS,
      lastKey: this.pictureOn === 'jpeg' ? this.snapKey : '',
      onFrame: (key) => {
        if (gen !== this.gen) return;
        this.snapKey = key;
        this.overlay.show(null, this.view.img);
        this.sawFrame(gen);
      },
      onEnd: (reason, retryMs) => this.fail(gen, reason, retryMs),
    });
  }

  connectMjpeg(gen) {
    this.session = new MjpegStream(mjpegEndpoint(this.name, this.jpegParams(this.single ? SINGLE_MJPEG : GRID_MJPEG)), this.view, {
      onFrame: () => {
        if (gen !== this.gen) return;
        this.overlay.show(null, this.view.img);
        this.sawFrame(gen);
      },
      onEnd: (reason) => this.fail(gen, reason),
    });
    this.timers.live = setTimeout(() => {
      if (this.status.state === 'streaming') this.fail(gen, 'no video within 10 s');
    }, LIVE_TIMEOUT_MS);
  }

  attach(gen, ev) {
    if (gen !== this.gen || this.streamGen === gen) return;
    const stream = ev.streams[0] ?? new MediaStream([ev.track]);
    this.streamGen = gen;
    this.video.srcObject = stream;
    this.video.play().catch(() => {
      // Autoplay of muted video is allowed; if a browser still refuses, the
      // stats check below notices decoded frames and marks the tile live.
    });
    // Every presented frame restarts the stale clock; the stats check below
    // backs this up where requestVideoFrameCallback is missing or idle.
    // It also gives each frame's RTP timestamp, which says which
    // detections the overlay draws on it.
    if (typeof this.video.requestVideoFrameCallback === 'function') {
      const video = this.video;
      this.mark('track', gen);
      let first = true;
      let moved = false; // a second frame came: the picture moves
      const onFrame = (now, meta) => {
        if (gen !== this.gen || this.stopped) return;
        // The first frame's metadata says when its last packet came and
        // how long it took to decode (docs/performance.md).
        if (first) this.mark('first-frame', gen, meta);
        else if (!moved) this.mark('moving', gen);
        moved = !first;
        first = false;
        this.overlay.show(this.framePts(meta?.rtpTimestamp), video);
        this.sawFrame(gen);
        video.requestVideoFrameCallback(onFrame);
      };
      video.requestVideoFrameCallback(onFrame);
    }
  }

  /**
   * mark records a stage of a WebRTC start as a performance mark
   * ('edgecam:dtls-connected', …) whose detail names the camera, the
   * stream and the attempt: docs/performance.md reads them to say where a
   * page's start time goes.
   */
  mark(stage, gen, meta = undefined) {
    const detail = { camera: this.name, stream: this.stream, gen };
    if (meta) {
      detail.receiveTime = meta.receiveTime;
      detail.processingDuration = meta.processingDuration;
      detail.presentationTime = meta.presentationTime;
    }
    performance.mark(`edgecam:${stage}`, { detail });
  }

  onConnectionState(gen, pc) {
    if (gen !== this.gen) return;
    switch (pc.connectionState) {
      case 'connected':
        this.mark('dtls-connected', gen);
        clearTimeout(this.timers.grace);
        this.timers.grace = 0;
        break;
      case 'disconnected':
        if (!this.timers.grace) {
          this.timers.grace = setTimeout(() => this.fail(gen, 'connection lost'), DISCONNECT_GRACE_MS);
        }
        break;
      case 'failed':
        // Terminal: no point waiting out the grace period.
        this.fail(gen, 'connection failed');
        break;
      case 'closed':
        this.fail(gen, 'connection closed');
        break;
    }
  }

  // checkStats backs up the video events: decoded frames mean live even in a
  // background tab, where requestVideoFrameCallback does not run; and a
  // decoder that stops while the camera streams means a dead session. It
  // asks the tile's receiver: a wall's peer connection has every tile's.
  async checkStats(gen, receiver) {
    let decoded = null;
    let reports = null;
    try {
      const report = await receiver.getStats();
      report.forEach((s) => {
        if (s.type === 'inbound-rtp' && s.kind === 'video' && typeof s.framesDecoded === 'number') {
          decoded = s.framesDecoded;
        }
        if (s.type === 'remote-outbound-rtp' && typeof s.reportsSent === 'number') reports = s.reportsSent;
      });
    } catch {
      return;
    }
    if (gen !== this.gen || decoded === null) return;
    const now = performance.now();
    // The server reports on each track it sends every second, frames or
    // not (a keyframe start waits up to a GOP for the next one). Reports
    // that stop mean it ended this camera's session, a reload changed the
    // camera say, which a connection shared with other tiles does not show.
    if (reports !== null && reports !== this.reports.count) {
      this.reports = { count: reports, changedAt: now };
    } else if (reports > 0 && now - this.reports.changedAt > REPORTS_SILENT_MS) {
      this.fail(gen, 'the server ended the session');
      return;
    }
    if (decoded !== this.frames.count) {
      this.frames = { count: decoded, changedAt: now };
      // Where requestVideoFrameCallback runs it is the picture clock: a
      // count that changed at some point in the last 2 s must not make a
      // frozen picture look fresh. The stats only make the tile live.
      if (decoded > 0 && (this.conn !== 'live' || !HAS_RVFC)) this.sawFrame(gen);
      return;
    }
    const watched = document.visibilityState === 'visible';
    if (this.conn === 'live' && this.status.state === 'streaming' && watched
        && now - this.frames.changedAt > STALL_MS) {
      this.fail(gen, 'video stalled');
    }
  }

  markLive(gen) {
    if (gen !== this.gen || this.stopped || this.conn === 'live') return;
    clearTimeout(this.timers.live);
    clearTimeout(this.timers.fallback);
    if (this.transport === 'webrtc') {
      this.webrtcWorked = true;
      // Ready for the switch to the other stream.
      if (this.api.sub && !this.warmPc) this.warmSoon();
    }
    this.failures = 0;
    this.backoff = BACKOFF_MIN_MS;
    this.lastError = '';
    this.frames.changedAt = performance.now();
    this.setConn('live');
  }

  /**
   * fallBack moves an auto tile from WebRTC to JPEG over the WebSocket at
   * once. It stays there until the transport is changed or the page reloads.
   * codec says the camera's codec is why, which the tile then shows.
   */
  fallBack(gen, reason, codec = false) {
    if (gen !== this.gen || this.stopped) return;
    this.gen++;
    this.teardown();
    this.fellBack = true;
    this.fallbackReason = reason;
    this.codecFallback = codec ? `${this.stream}:${this.codec()}` : '';
    this.backoff = BACKOFF_MIN_MS;
    this.connect();
  }

  /**
   * fail ends the current attempt and schedules the next with backoff, no
   * sooner than retryMs (a server's Retry-After).
   */
  fail(gen, reason, retryMs = 0) {
    if (gen !== this.gen || this.stopped) return;
    // Auto mode: WebRTC that never played here while the camera streams is
    // blocked somewhere (network, browser); JPEG may still get through. Once
    // WebRTC has played, a failure is a hiccup and WebRTC is retried.
    if (this.mode === 'auto' && this.transport === 'webrtc' && !this.webrtcWorked
        && this.status.state === 'streaming') {
      this.fallBack(gen, reason);
      return;
    }
    this.gen++; // every callback of the failed attempt is now stale
    this.teardown();
    this.failures++;
    this.lastError = reason;
    this.setConn('reconnecting');
    // While the camera itself is offline a viewer cannot help it; poll slowly.
    const delay = Math.max(this.apiOffline() ? BACKOFF_MAX_MS : this.backoff, retryMs);
    this.backoff = Math.min(this.backoff * 2, BACKOFF_MAX_MS);
    this.timers.retry = setTimeout(() => {
      this.timers.retry = 0;
      this.connect();
    }, delay);
  }

  teardown() {
    clearTimeout(this.timers.live);
    clearTimeout(this.timers.grace);
    clearTimeout(this.timers.fallback);
    clearInterval(this.timers.stats);
    this.timers.live = this.timers.grace = this.timers.stats = this.timers.fallback = 0;
    this.frames = { count: 0, changedAt: 0 };
    this.reports = { count: 0, changedAt: 0 };
    this.sync?.close();
    this.sync = null;
    this.overlay.delayMs = 0;
    if (this.session) {
      this.session.close();
      // The last frame stays on screen until the next session shows one,
      // except for MJPEG: its <img> is its connection.
      if (this.session instanceof MjpegStream) this.dropPicture();
      this.session = null;
    }
  }

  async snapshot() {
    if (this.snapBusy) return;
    this.snapBusy = true;
    this.snapButton.setAttribute('aria-busy', 'true');
    this.showSnapMsg('saving…');
    try {
      await downloadSnapshot(this.name);
      this.showSnapMsg('saved');
    } catch (err) {
      this.showSnapMsg(`snapshot failed: ${err?.message ?? err}`);
    } finally {
      this.snapBusy = false;
      this.snapButton.removeAttribute('aria-busy');
    }
  }

  showSnapMsg(text) {
    clearTimeout(this.timers.snapMsg);
    this.snapMsg.textContent = text;
    this.timers.snapMsg = setTimeout(() => {
      this.snapMsg.textContent = '';
    }, SNAPSHOT_MSG_MS);
  }

  setConn(conn) {
    if (this.conn === conn) return;
    this.conn = conn;
    this.render();
  }

  render() {
    const api = this.status;
    const state = this.state;
    if (this.el.dataset.state !== state) {
      this.el.dataset.state = state;
      this.hooks.onState();
    }
    const transport = this.transport;
    if (this.el.dataset.transport !== transport) this.el.dataset.transport = transport;
    if (this.el.dataset.stream !== this.stream) this.el.dataset.stream = this.stream;
    const health = this.serverDown ? 'unknown' : healthOf(api);
    if (this.el.dataset.health !== health) this.el.dataset.health = health;
    // render runs for every camera list event: only what changed is
    // written, since a text written again, even the same, is laid out
    // and shaped again.
    setText(this.transportLabel, TRANSPORT_TEXT[transport]);
    // Nothing plays on a dead tile, and there is no picture to save.
    setProp(this.transportLabel, 'hidden', state === 'offline');
    setProp(this.snapButton, 'disabled', state === 'offline' || this.serverDown);
    setProp(this.transportLabel, 'title', describeTransport(transport, this.jpegInfo, this.fellBack ? this.fallbackReason : ''));
    // A live tile whose picture froze must not look live.
    const frozen = this.stale && state === 'live';
    const still = state === 'live' && transport === 'snapshot';
    setText(this.badge, frozen ? 'frozen' : still ? 'still picture' : BADGE_TEXT[state]);
    if (still) this.el.dataset.still = 'true';
    else delete this.el.dataset.still;
    if (this.stale) this.el.dataset.stale = 'true';
    else delete this.el.dataset.stale;
    setProp(this.problem.box, 'hidden', !(state === 'offline' || this.serverDown));
    setProp(this.staleBox, 'hidden', !this.stale || !this.problem.box.hidden);
    if (this.stale) this.renderStale();
    if (!this.problem.box.hidden) this.renderProblem();
    setText(this.info, describeFormat(api, this.stream, transport, !this.single));

    let reason = '';
    if (state === 'offline') {
      reason = problemWords(api).title;
    } else if (state === 'reconnecting') {
      reason = this.lastError;
    } else if (state === 'connecting' && api.state === 'idle') {
      reason = 'starting camera';
    } else if (this.codecFallback !== '' && this.transport === 'ws') {
      reason = this.fallbackReason;
    }
    setText(this.reason, reason);
    setProp(this.reason, 'hidden', reason === '');
    const label = `${this.name}: ${BADGE_TEXT[state]}${this.stale ? ', picture frozen' : ''}${reason ? `, ${reason}` : ''}`;
    if (this.el.getAttribute('aria-label') !== label) this.el.setAttribute('aria-label', label);
  }

  // renderStale writes the overlay's counter and what the server says.
  renderStale() {
    const age = performance.now() - this.pictureAt;
    setText(this.staleTitle, `No new picture for ${formatAge(age)}`);
    setText(this.staleDetail, this.staleReason());
  }

  // renderProblem fills the box over the picture of a tile that cannot
  // play: the server's reason in words, since when and the next try, and
  // the raw error for whoever fixes it.
  renderProblem() {
    const p = this.problem;
    if (this.serverDown) {
      setText(p.title, 'Server unreachable');
      setText(p.hint, 'this picture may be old; the page keeps trying to reach the server');
      setText(p.when, '');
      setText(p.raw, '');
      p.retry.hidden = true;
      return;
    }
    const api = this.status;
    const words = problemWords(api);
    setText(p.title, words.title || 'Camera offline');
    setText(p.hint, words.hint);
    if (!p.retry.disabled) setText(p.when, whenWords(api));
    setText(p.raw, api.error ? `Details: ${api.error}` : '');
    p.retry.hidden = api.state === 'disabled';
  }

  staleReason() {
    const api = this.status;
    if (this.serverDown) return 'Server unreachable';
    if (api.state && api.state !== 'streaming') {
      return `Camera ${stateWords(api.state)}`;
    }
    if (this.conn === 'reconnecting') return `Reconnecting${this.lastError ? `: ${this.lastError}` : ''}`;
    if (this.conn === 'connecting') return 'Connecting';
    return 'No video arriving, though the server reports the camera streaming';
  }
}

// pictureElement names the element a transport shows its picture in.
function pictureElement(transport) {
  return transport === 'webrtc' ? 'video' : 'jpeg';
}

// setText changes an element's text only when it differs, so that a render
// every second does not churn the DOM or assistive tech.
function setText(el, text) {
  if (el.textContent !== text) el.textContent = text;
}

// setProp sets a property of el (hidden, disabled, title) when it differs.
function setProp(el, name, value) {
  if (el[name] !== value) el[name] = value;
}

// formatAge says how long ago, readable from across a room: "7 s",
// "2 min 5 s", "1 h 12 min".
function formatAge(ms) {
  const secs = Math.floor(ms / 1000);
  if (secs < 60) return `${secs} s`;
  const mins = Math.floor(secs / 60);
  if (mins < 60) return `${mins} min ${secs % 60} s`;
  return `${Math.floor(mins / 60)} h ${mins % 60} min`;
}

function describeTransport(transport, info, fallbackReason) {
  let text = TRANSPORT_TITLE[transport];
  if (transport === 'ws' && info && info.width > 0 && info.height > 0) {
    text += `, ${info.width}×${info.height}`;
    if (info.fps > 0) text += ` at up to ${info.fps} fps`;
  }
  if (fallbackReason) text += ` (WebRTC did not work: ${fallbackReason})`;
  return text;
}

function describeFormat(api, stream, transport, grid) {
  const parts = [];
  if (stream === 'sub') parts.push('sub-stream');
  if (api.width > 0 && api.height > 0) parts.push(`${api.width}×${api.height}`);
  // A still picture every 2 s is not the camera's frame rate.
  if (transport === 'snapshot') parts.push(`a still picture every ${SNAPSHOT_EVERY_MS / 1000} s`);
  else if (api.fps > 0 && grid && (transport === 'ws' || transport === 'mjpeg')) {
    parts.push(`${Math.round(api.fps)} fps camera, shown at ${GRID_JPEG.fps} fps`);
  } else if (api.fps > 0) parts.push(`${Math.round(api.fps * 10) / 10} fps`);
  if (api.codec) parts.push(String(api.codec));
  if (!parts.length && api.address) parts.push(`camera at ${api.address}`);
  return parts.length ? parts.join(' · ') : '—';
}

// part makes an element of the tile with its class.
function part(tag, className) {
  const el = document.createElement(tag);
  el.className = className;
  return el;
}
