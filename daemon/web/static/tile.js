// One camera tile: its DOM, its WHEP session and the rules for recovering it.

import { WhepSession, whepEndpoint } from './whep.js';

const LIVE_TIMEOUT_MS = 10000; // connect → first decoded frame, or start over
const DISCONNECT_GRACE_MS = 3000; // ICE may recover from 'disconnected' by itself
const BACKOFF_MIN_MS = 1000;
const BACKOFF_MAX_MS = 15000;
const STATS_EVERY_MS = 2000;
const STALL_MS = 10000; // a live tile whose decoder stops this long starts over

// API states in which the camera itself is not delivering video.
const OFFLINE_API_STATES = new Set(['retrying', 'unsupported', 'disabled']);

const BADGE_TEXT = {
  connecting: 'connecting',
  live: 'live',
  offline: 'camera offline',
  reconnecting: 'reconnecting',
};

/**
 * Tile shows one camera. Its element carries data-camera (the name) and
 * data-state (connecting | live | offline | reconnecting).
 */
export class Tile {
  /**
   * @param {object} cam camera object from GET /api/cameras
   * @param {{onActivate: (name: string) => void, onState: () => void}} hooks
   */
  constructor(cam, hooks) {
    this.name = cam.name;
    this.hooks = hooks;
    this.api = cam;
    this.conn = 'connecting'; // our own view: connecting | live | reconnecting
    this.lastError = '';
    this.failures = 0;
    this.backoff = BACKOFF_MIN_MS;
    this.session = null;
    this.gen = 0; // bumps on every attempt so stale callbacks can tell
    this.streamGen = -1; // gen whose stream the <video> shows
    this.stopped = true;
    this.timers = { retry: 0, live: 0, grace: 0, stats: 0 };
    this.frames = { count: 0, changedAt: 0 };
    this.build();
    this.render();
  }

  build() {
    const el = document.createElement('article');
    el.className = 'tile';
    el.dataset.camera = this.name;
    el.tabIndex = 0;
    el.setAttribute('role', 'button');

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
    const badge = document.createElement('span');
    badge.className = 'badge';
    frame.append(video, badge);

    const meta = document.createElement('div');
    meta.className = 'meta';
    const title = document.createElement('h2');
    title.className = 'name';
    title.textContent = this.name;
    const info = document.createElement('p');
    info.className = 'info';
    const reason = document.createElement('p');
    reason.className = 'reason';
    meta.append(title, info, reason);

    el.append(frame, meta);
    this.el = el;
    this.video = video;
    this.badge = badge;
    this.info = info;
    this.reason = reason;

    el.addEventListener('click', () => this.hooks.onActivate(this.name));
    el.addEventListener('keydown', (ev) => {
      if (ev.target !== el || ev.altKey || ev.ctrlKey || ev.metaKey) return;
      if (ev.key === 'Enter' || ev.key === ' ') {
        ev.preventDefault();
        this.hooks.onActivate(this.name);
      }
    });

    const maybeLive = () => {
      if (this.streamGen === this.gen && video.videoWidth > 0) this.markLive(this.gen);
    };
    for (const type of ['playing', 'resize', 'loadeddata']) video.addEventListener(type, maybeLive);
  }

  /** state is what data-state shows. */
  get state() {
    return this.apiOffline() ? 'offline' : this.conn;
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
   * up again from a fresh first attempt.
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
    this.video.srcObject = null;
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

  connect() {
    clearTimeout(this.timers.retry);
    this.teardown();
    if (this.stopped) return;
    const gen = ++this.gen;
    this.setConn(this.failures > 0 ? 'reconnecting' : 'connecting');

    let session;
    try {
      session = new WhepSession(whepEndpoint(this.name));
    } catch (err) {
      this.fail(gen, `WebRTC unavailable: ${err?.message ?? err}`);
      return;
    }
    this.session = session;
    const pc = session.pc;
    pc.addEventListener('track', (ev) => this.attach(gen, ev));
    pc.addEventListener('connectionstatechange', () => this.onConnectionState(gen, pc));
    this.timers.live = setTimeout(() => this.fail(gen, 'no video within 10 s'), LIVE_TIMEOUT_MS);

    session.start().then(
      () => {
        if (gen !== this.gen) return;
        this.timers.stats = setInterval(() => this.checkStats(gen, pc), STATS_EVERY_MS);
      },
      (err) => this.fail(gen, err?.message ?? String(err)),
    );
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
    this.failures = 0;
    this.backoff = BACKOFF_MIN_MS;
    this.lastError = '';
    this.frames.changedAt = performance.now();
    this.setConn('live');
  }

  fail(gen, reason) {
    if (gen !== this.gen || this.stopped) return;
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
    clearInterval(this.timers.stats);
    this.timers.live = this.timers.grace = this.timers.stats = 0;
    this.frames = { count: 0, changedAt: 0 };
    if (this.session) {
      this.session.close();
      this.session = null;
    }
    // The last frame stays on screen until the next session's track arrives.
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

function describeFormat(api) {
  const parts = [];
  if (api.width > 0 && api.height > 0) parts.push(`${api.width}×${api.height}`);
  if (api.fps > 0) parts.push(`${Math.round(api.fps * 10) / 10} fps`);
  if (api.codec) parts.push(String(api.codec));
  return parts.length ? parts.join(' · ') : '—';
}
