// One camera tile: its DOM, its session (WebRTC or JPEG) and the rules for
// recovering it.

import { WhepSession, browserDecodesH264, whepEndpoint } from './whep.js';
import {
  JpegSocket, JpegView, MjpegStream, downloadSnapshot, mjpegEndpoint, wsEndpoint,
} from './jpeg.js';

const LIVE_TIMEOUT_MS = 10000; // connect → first decoded frame, or start over
const FALLBACK_MS = 5000; // auto: WebRTC not live this long → JPEG over WebSocket
const DISCONNECT_GRACE_MS = 3000; // ICE may recover from 'disconnected' by itself
const BACKOFF_MIN_MS = 1000;
const BACKOFF_MAX_MS = 15000;
const STATS_EVERY_MS = 2000;
const STALL_MS = 10000; // a live tile whose decoder stops this long starts over
const SNAPSHOT_MSG_MS = 5000;

// JPEG requests: the grid asks for small frames at a low rate to spare the
// server's encoder and the network; full size gets the server's defaults.
const GRID_JPEG = { width: 640, fps: 5 };
const SINGLE_JPEG = {};

/** TRANSPORTS are the user's choices; 'auto' is WebRTC with a JPEG fallback. */
export const TRANSPORTS = ['auto', 'webrtc', 'ws', 'mjpeg'];

const TRANSPORT_TEXT = { webrtc: 'WebRTC', ws: 'JPEG·WS', mjpeg: 'MJPEG' };
const TRANSPORT_TITLE = {
  webrtc: 'H.264 video over WebRTC',
  ws: 'JPEG frames over a WebSocket',
  mjpeg: 'Motion JPEG',
};

// API states in which the camera itself is not delivering video.
const OFFLINE_API_STATES = new Set(['retrying', 'unsupported', 'disabled']);

const BADGE_TEXT = {
  connecting: 'connecting',
  live: 'live',
  offline: 'camera offline',
  reconnecting: 'reconnecting',
};

/**
 * Tile shows one camera. Its element carries data-camera (the name),
 * data-state (connecting | live | offline | reconnecting) and data-transport
 * (webrtc | ws | mjpeg: what it plays over right now).
 */
export class Tile {
  /**
   * @param {object} cam camera object from GET /api/cameras
   * @param {{onActivate: (name: string) => void, onState: () => void}} hooks
   * @param {{transport?: string, single?: boolean}} opts transport is one of TRANSPORTS
   */
  constructor(cam, hooks, opts = {}) {
    this.name = cam.name;
    this.hooks = hooks;
    this.api = cam;
    this.mode = TRANSPORTS.includes(opts.transport) ? opts.transport : 'auto';
    this.single = Boolean(opts.single); // shown full size: JPEG at full size
    this.fellBack = false; // auto gave up on WebRTC; stays until the mode changes
    this.webrtcWorked = false; // WebRTC was live here under the current mode
    this.fallbackReason = '';
    this.jpegInfo = null; // the server's info message of the current socket
    this.lastFrameAt = 0; // JPEG socket: last frame received
    this.snapBusy = false;
    this.conn = 'connecting'; // our own view: connecting | live | reconnecting
    this.lastError = '';
    this.failures = 0;
    this.backoff = BACKOFF_MIN_MS;
    this.session = null;
    this.gen = 0; // bumps on every attempt so stale callbacks can tell
    this.streamGen = -1; // gen whose stream the <video> shows
    this.stopped = true;
    this.timers = { retry: 0, live: 0, grace: 0, stats: 0, fallback: 0, snapMsg: 0 };
    this.frames = { count: 0, changedAt: 0 };
    this.build();
    this.render();
  }

  build() {
    const el = document.createElement('article');
    el.className = 'tile';
    el.dataset.camera = this.name;
    el.tabIndex = 0;
    // Not role=button: a button's content is flattened for assistive tech,
    // which would hide the snapshot button inside. Enter still opens it.
    el.setAttribute('role', 'group');
    el.setAttribute('aria-keyshortcuts', 'Enter');

    const frame = document.createElement('div');
    frame.className = 'frame';
    const video = document.createElement('video');
    video.className = 'cam-video';
    // Attributes as well as properties: autoplay of muted inline video is
    // what every browser allows without a user gesture.
    for (const attr of ['muted', 'autoplay', 'playsinline']) video.setAttribute(attr, '');
    video.muted = true;
    video.autoplay = true;
    video.playsInline = true;
    video.disablePictureInPicture = true;
    const jpeg = document.createElement('img');
    jpeg.className = 'cam-jpeg';
    jpeg.alt = '';
    jpeg.decoding = 'async';
    const badge = document.createElement('span');
    badge.className = 'badge';
    const transport = document.createElement('span');
    transport.className = 'transport';
    frame.append(video, jpeg, badge, transport);

    const meta = document.createElement('div');
    meta.className = 'meta';
    const title = document.createElement('h2');
    title.className = 'name';
    title.textContent = this.name;
    const info = document.createElement('p');
    info.className = 'info';
    const reason = document.createElement('p');
    reason.className = 'reason';
    const actions = document.createElement('div');
    actions.className = 'actions';
    const snap = document.createElement('button');
    snap.type = 'button';
    snap.className = 'btn snap';
    snap.textContent = 'Snapshot';
    snap.setAttribute('aria-label', `Download a snapshot of ${this.name}`);
    actions.append(snap);
    const head = document.createElement('div');
    head.className = 'head';
    head.append(title, actions);
    const snapMsg = document.createElement('p');
    snapMsg.className = 'snap-msg';
    snapMsg.setAttribute('role', 'status');
    meta.append(head, info, reason, snapMsg);

    el.append(frame, meta);
    this.el = el;
    this.video = video;
    this.view = new JpegView(jpeg);
    this.badge = badge;
    this.transportLabel = transport;
    this.info = info;
    this.reason = reason;
    this.snapButton = snap;
    this.snapMsg = snapMsg;

    // The snapshot button lives inside the clickable tile: its clicks must
    // not open the camera. Its keys never reach the tile's handler below,
    // which only acts on keys aimed at the tile itself.
    snap.addEventListener('click', (ev) => {
      ev.stopPropagation();
      this.snapshot();
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
      if (this.streamGen === this.gen && this.transport === 'webrtc' && video.videoWidth > 0) this.markLive(this.gen);
    };
    for (const type of ['playing', 'resize', 'loadeddata']) video.addEventListener(type, maybeLive);
  }

  /** state is what data-state shows. */
  get state() {
    return this.apiOffline() ? 'offline' : this.conn;
  }

  /** transport is what the tile plays over now (data-transport). */
  get transport() {
    if (this.mode === 'auto') return this.fellBack ? 'ws' : 'webrtc';
    return this.mode;
  }

  apiOffline() {
    return OFFLINE_API_STATES.has(this.api.state);
  }

  /** update takes a fresh camera object from the API poll. */
  update(cam) {
    const wasOffline = this.apiOffline();
    this.api = cam;
    this.render();
    // The camera came back while we sat in a slow offline backoff: try now
    // instead of waiting out up to 15 s.
    if (wasOffline && !this.apiOffline() && !this.stopped && this.session === null) {
      this.backoff = BACKOFF_MIN_MS;
      this.connect();
    }
  }

  /** start begins (or resumes) connecting. */
  start() {
    if (!this.stopped) return;
    this.stopped = false;
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
    this.failures = 0;
    this.backoff = BACKOFF_MIN_MS;
    this.lastError = '';
    this.setConn('connecting');
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
   * setVisible shows and runs the tile, or hides and stops it. The
   * single-camera view hides the others, which frees their viewer slots and
   * the display machine's decoders for the one camera being watched.
   */
  setVisible(visible) {
    this.el.hidden = !visible;
    if (visible) this.start();
    else this.stop();
  }

  /**
   * setTransport switches to one of TRANSPORTS and reconnects. Auto starts
   * over with WebRTC.
   */
  setTransport(mode) {
    if (!TRANSPORTS.includes(mode) || mode === this.mode) return;
    this.mode = mode;
    this.fellBack = false;
    this.webrtcWorked = false;
    this.fallbackReason = '';
    this.restart();
  }

  /**
   * setSingle says whether the tile is the full-size view. JPEG streams are
   * requested smaller in the grid, so they reconnect; WebRTC is unaffected.
   */
  setSingle(single) {
    if (single === this.single) return;
    this.single = single;
    if (this.transport !== 'webrtc') this.restart();
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
    const gen = ++this.gen;
    this.setConn(this.failures > 0 ? 'reconnecting' : 'connecting');
    const transport = this.transport;
    // Each element shows only its own transport's picture. Within one
    // transport the last picture stays up until the new session shows one.
    if (transport === 'webrtc') this.view.clear();
    else this.video.srcObject = null;
    this.render();
    if (transport === 'webrtc') this.connectWebRTC(gen);
    else if (transport === 'ws') this.connectSocket(gen);
    else this.connectMjpeg(gen);
  }

  connectWebRTC(gen) {
    const auto = this.mode === 'auto';
    if (auto && typeof RTCPeerConnection !== 'function') {
      this.fallBack(gen, 'this browser has no WebRTC');
      return;
    }
    if (auto && browserDecodesH264() === false) {
      this.fallBack(gen, 'this browser cannot decode H.264 over WebRTC');
      return;
    }
    let session;
    try {
      session = new WhepSession(whepEndpoint(this.name));
    } catch (err) {
      const reason = `WebRTC unavailable: ${err?.message ?? err}`;
      if (auto) this.fallBack(gen, reason);
      else this.fail(gen, reason);
      return;
    }
    this.session = session;
    const pc = session.pc;
    pc.addEventListener('track', (ev) => this.attach(gen, ev));
    pc.addEventListener('connectionstatechange', () => this.onConnectionState(gen, pc));
    this.timers.live = setTimeout(() => this.fail(gen, 'no video within 10 s'), LIVE_TIMEOUT_MS);
    if (auto && !this.webrtcWorked) {
      this.timers.fallback = setTimeout(() => {
        // A camera that is not streaming delays WebRTC and JPEG alike;
        // only a camera that streams says WebRTC itself is the problem.
        if (gen === this.gen && this.api.state === 'streaming') this.fallBack(gen, 'no video within 5 s');
      }, FALLBACK_MS);
    }

    session.start().then(
      () => {
        if (gen !== this.gen) return;
        this.timers.stats = setInterval(() => this.checkStats(gen, pc), STATS_EVERY_MS);
      },
      (err) => {
        const reason = err?.message ?? String(err);
        // 5xx: the server cannot serve WebRTC now (e.g. no sessions left).
        if (auto && err?.status >= 500) this.fallBack(gen, reason);
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
      sock = new JpegSocket(wsEndpoint(this.name, this.single ? SINGLE_JPEG : GRID_JPEG), this.view, {
        onInfo: (info) => {
          if (gen !== this.gen) return;
          this.jpegInfo = info;
          this.render();
        },
        onReceive: () => {
          if (gen === this.gen) this.lastFrameAt = performance.now();
        },
        onFrame: () => this.markLive(gen),
        onEnd: (reason) => this.fail(gen, reason),
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
    if (this.api.state !== 'streaming') {
      this.lastFrameAt = now;
      return;
    }
    if (now - this.lastFrameAt > STALL_MS) {
      this.fail(gen, this.conn === 'live' ? 'video stalled' : 'no video within 10 s');
    }
  }

  connectMjpeg(gen) {
    this.session = new MjpegStream(mjpegEndpoint(this.name, this.single ? SINGLE_JPEG : GRID_JPEG), this.view, {
      onFrame: () => this.markLive(gen),
      onEnd: (reason) => this.fail(gen, reason),
    });
    this.timers.live = setTimeout(() => {
      if (this.api.state === 'streaming') this.fail(gen, 'no video within 10 s');
    }, LIVE_TIMEOUT_MS);
  }

  attach(gen, ev) {
    if (gen !== this.gen) return;
    const stream = ev.streams[0] ?? new MediaStream([ev.track]);
    this.streamGen = gen;
    this.video.srcObject = stream;
    this.video.play().catch(() => {
      // Autoplay of muted video is allowed; if a browser still refuses, the
      // stats check below notices decoded frames and marks the tile live.
    });
    if (typeof this.video.requestVideoFrameCallback === 'function') {
      this.video.requestVideoFrameCallback(() => this.markLive(gen));
    }
  }

  onConnectionState(gen, pc) {
    if (gen !== this.gen) return;
    switch (pc.connectionState) {
      case 'connected':
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
  // decoder that stops while the camera streams means a dead session.
  async checkStats(gen, pc) {
    let decoded = null;
    try {
      const report = await pc.getStats();
      report.forEach((s) => {
        if (s.type === 'inbound-rtp' && s.kind === 'video' && typeof s.framesDecoded === 'number') {
          decoded = s.framesDecoded;
        }
      });
    } catch {
      return;
    }
    if (gen !== this.gen || decoded === null) return;
    const now = performance.now();
    if (decoded !== this.frames.count) {
      this.frames = { count: decoded, changedAt: now };
      if (decoded > 0) this.markLive(gen);
      return;
    }
    const watched = document.visibilityState === 'visible';
    if (this.conn === 'live' && this.api.state === 'streaming' && watched
        && now - this.frames.changedAt > STALL_MS) {
      this.fail(gen, 'video stalled');
    }
  }

  markLive(gen) {
    if (gen !== this.gen || this.stopped || this.conn === 'live') return;
    clearTimeout(this.timers.live);
    clearTimeout(this.timers.fallback);
    if (this.transport === 'webrtc') this.webrtcWorked = true;
    this.failures = 0;
    this.backoff = BACKOFF_MIN_MS;
    this.lastError = '';
    this.frames.changedAt = performance.now();
    this.setConn('live');
  }

  /**
   * fallBack moves an auto tile from WebRTC to JPEG over the WebSocket at
   * once. It stays there until the transport is changed or the page reloads.
   */
  fallBack(gen, reason) {
    if (gen !== this.gen || this.stopped) return;
    this.gen++;
    this.teardown();
    this.fellBack = true;
    this.fallbackReason = reason;
    this.backoff = BACKOFF_MIN_MS;
    this.connect();
  }

  fail(gen, reason) {
    if (gen !== this.gen || this.stopped) return;
    // Auto mode: WebRTC that never played here while the camera streams is
    // blocked somewhere (network, browser); JPEG may still get through. Once
    // WebRTC has played, a failure is a hiccup and WebRTC is retried.
    if (this.mode === 'auto' && this.transport === 'webrtc' && !this.webrtcWorked
        && this.api.state === 'streaming') {
      this.fallBack(gen, reason);
      return;
    }
    this.gen++; // every callback of the failed attempt is now stale
    this.teardown();
    this.failures++;
    this.lastError = reason;
    this.setConn('reconnecting');
    // While the camera itself is offline a viewer cannot help it; poll slowly.
    const delay = this.apiOffline() ? BACKOFF_MAX_MS : this.backoff;
    this.backoff = Math.min(this.backoff * 2, BACKOFF_MAX_MS);
    this.timers.retry = setTimeout(() => this.connect(), delay);
  }

  teardown() {
    clearTimeout(this.timers.live);
    clearTimeout(this.timers.grace);
    clearTimeout(this.timers.fallback);
    clearInterval(this.timers.stats);
    this.timers.live = this.timers.grace = this.timers.stats = this.timers.fallback = 0;
    this.frames = { count: 0, changedAt: 0 };
    if (this.session) {
      this.session.close();
      this.session = null;
    }
    // The last frame stays on screen until the next session shows one
    // (MJPEG excepted: its <img> is its connection).
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
    const api = this.api;
    const state = this.state;
    if (this.el.dataset.state !== state) {
      this.el.dataset.state = state;
      this.hooks.onState();
    }
    const transport = this.transport;
    if (this.el.dataset.transport !== transport) this.el.dataset.transport = transport;
    this.transportLabel.textContent = TRANSPORT_TEXT[transport];
    this.transportLabel.title = describeTransport(transport, this.jpegInfo, this.fellBack ? this.fallbackReason : '');
    this.badge.textContent = BADGE_TEXT[state];
    this.info.textContent = describeFormat(api);

    let reason = '';
    if (state === 'offline') {
      reason = api.error || { unsupported: 'camera sends no H.264', disabled: 'disabled' }[api.state] || '';
    } else if (state === 'reconnecting') {
      reason = this.lastError;
    } else if (state === 'connecting' && api.state === 'idle') {
      reason = 'starting camera';
    }
    this.reason.textContent = reason;
    this.reason.hidden = reason === '';
    this.el.setAttribute('aria-label', `${this.name}: ${BADGE_TEXT[state]}${reason ? `, ${reason}` : ''}`);
  }
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

function describeFormat(api) {
  const parts = [];
  if (api.width > 0 && api.height > 0) parts.push(`${api.width}×${api.height}`);
  if (api.fps > 0) parts.push(`${Math.round(api.fps * 10) / 10} fps`);
  if (api.codec) parts.push(String(api.codec));
  return parts.length ? parts.join(' · ') : '—';
}
