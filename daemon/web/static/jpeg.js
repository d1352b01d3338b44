// JPEG transports for browsers or networks where WebRTC does not work: JPEG
// frames over a WebSocket, MJPEG in an <img>, a loop of snapshots for the grid
// of a weak display, and single snapshots to download.
//
// The WebSocket is what the page falls back to by itself. MJPEG is only ever a
// user's explicit choice: each MJPEG <img> holds one HTTP/1.1 connection for
// as long as it plays, and browsers allow six per server, so a grid of MJPEG
// tiles stalls itself and the page's API polling. WebSockets have no such cap.

import { timeoutSignal } from './whep.js';

// The server waits up to 10 s for a first picture (an on-demand camera must
// connect first); give its answer a little longer than that to arrive.
const SNAPSHOT_TIMEOUT_MS = 12000;
const MAX_REASON_CHARS = 200;
// A 503's Retry-After is honoured within these bounds.
const RETRY_AFTER_MIN_MS = 1000;
const RETRY_AFTER_MAX_MS = 60000;
// MJPEG: how often the <img> is sampled to tell a new picture from a frozen
// one, and the size of the sample. Browsers fire no event per part of a
// multipart image, so comparing pixels is the only way to tell.
const MJPEG_FIRST_POLL_MS = 250;
const MJPEG_SAMPLE_MS = 1000;
const MJPEG_SAMPLE_W = 160;
const MJPEG_SAMPLE_H = 90;
// How long a frame may be held for a model's detections, and how many
// frames wait meanwhile.
const HOLD_MS = 500;
const HOLD_FRAMES = 16;

/**
 * jpegQuery builds the query string of a JPEG stream request. Empty, null and
 * undefined values are left out, so the server's defaults apply.
 * @param {{fps?: number, width?: number, quality?: number}} params
 */
function jpegQuery(params = {}) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  }
  const s = q.toString();
  return s ? `?${s}` : '';
}

function cameraPath(name) {
  return `/cameras/${encodeURIComponent(name)}`;
}

/**
 * wsEndpoint returns the absolute ws:/wss: URL of a camera's JPEG WebSocket
 * on this page's own origin, which CSP connect-src 'self' allows.
 */
export function wsEndpoint(name, params) {
  const url = new URL(`${cameraPath(name)}/ws${jpegQuery(params)}`, document.baseURI);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  return url.href;
}

/** mjpegEndpoint returns the URL path of a camera's MJPEG stream. */
export function mjpegEndpoint(name, params) {
  return `${cameraPath(name)}/mjpeg${jpegQuery(params)}`;
}

/** snapshotEndpoint returns the URL path of a camera's single-JPEG snapshot. */
export function snapshotEndpoint(name, params) {
  return `${cameraPath(name)}/snapshot.jpg${jpegQuery(params)}`;
}

/**
 * JpegView owns one <img> and the blob: URL it shows, so that every URL is
 * revoked once a newer frame has replaced it.
 */
export class JpegView {
  /** @param {HTMLImageElement} img */
  constructor(img) {
    this.img = img;
    this.url = null; // blob: URL on screen, ours to revoke
  }

  /**
   * showBlob puts one JPEG on screen and resolves true once it is decoded,
   * false if it could not be (corrupt, or replaced before it decoded).
   */
  async showBlob(blob) {
    const url = URL.createObjectURL(blob);
    const prev = this.url;
    this.url = url;
    this.img.src = url;
    try {
      await this.img.decode();
      return true;
    } catch {
      return false;
    } finally {
      // Revoke only after the new frame is up, so the old one stays on
      // screen while the new one decodes.
      if (prev) URL.revokeObjectURL(prev);
    }
  }

  /** play points the <img> at a URL it streams itself (MJPEG). */
  play(url) {
    this.clear();
    this.img.src = url;
  }

  /** clear blanks the <img>; for MJPEG this also drops the connection. */
  clear() {
    this.img.removeAttribute('src');
    if (this.url) URL.revokeObjectURL(this.url);
    this.url = null;
  }
}

/**
 * JpegSocket plays a camera's JPEG WebSocket into a JpegView. It shows the
 * newest frame that is ready: frames that arrive while one is still decoding
 * replace each other, so a slow display never builds up a queue.
 *
 * hooks.onInfo(info) gets the server's {type:"info"} message,
 * hooks.onReceive() runs for every frame that arrives, hooks.onFrame(meta)
 * for every frame shown, with the server's {type:"frame"} metadata of it
 * when the URL asked for it (meta=1), and hooks.onEnd(reason) once if the
 * socket closes by itself. close() ends it quietly.
 *
 * hooks.ready(meta), if given, may hold a frame back until it returns true
 * (the overlay waits for a model's detections of it), for at most HOLD_MS;
 * call recheck() when its answer may have changed. hooks.onFrame's second
 * argument says how long the frame was held, in ms.
 */
export class JpegSocket {
  /**
   * @param {string} url ws: or wss: URL
   * @param {JpegView} view
   * @param {{onInfo: (info: object) => void, onReceive: () => void, onFrame: (meta: object|null, heldMs: number) => void, onEnd: (reason: string) => void, ready?: (meta: object|null) => boolean}} hooks
   */
  constructor(url, view, hooks) {
    this.view = view;
    this.hooks = hooks;
    this.closed = false;
    /** @type {{data: Blob, meta: object|null, at: number}[]} frames not yet shown, oldest first */
    this.queue = [];
    this.meta = null; // metadata of the next binary message
    this.showing = false;
    this.holdTimer = 0;
    this.error = ''; // reason from a {type:"error"} message
    this.ws = new WebSocket(url);
    // Blobs stay out of the JS heap and go straight into new Blob([...]).
    this.ws.binaryType = 'blob';
    this.ws.addEventListener('message', (ev) => this.onMessage(ev));
    this.ws.addEventListener('close', (ev) => this.onClose(ev));
  }

  onMessage(ev) {
    if (this.closed) return;
    if (typeof ev.data === 'string') {
      let msg;
      try {
        msg = JSON.parse(ev.data);
      } catch {
        return;
      }
      if (msg?.type === 'info') this.hooks.onInfo(msg);
      else if (msg?.type === 'frame') this.meta = msg;
      else if (msg?.type === 'error') this.error = String(msg.error ?? 'server error').slice(0, MAX_REASON_CHARS);
      return;
    }
    this.hooks.onReceive();
    this.queue.push({ data: ev.data, meta: this.meta, at: performance.now() });
    if (this.queue.length > HOLD_FRAMES) this.queue.shift();
    this.meta = null;
    this.recheck();
  }

  /** recheck shows the newest ready frame, unless one is decoding. */
  recheck() {
    if (!this.showing && !this.closed) this.showPending();
  }

  async showPending() {
    this.showing = true;
    clearTimeout(this.holdTimer);
    this.holdTimer = 0;
    while (this.queue.length && !this.closed) {
      const i = this.newestReady();
      if (i < 0) {
        // Held: look again when the oldest frame has waited long enough
        // (recheck comes sooner when detections arrive).
        const wait = this.queue[0].at + HOLD_MS - performance.now();
        this.holdTimer = setTimeout(() => this.recheck(), Math.max(0, wait));
        break;
      }
      const { data, meta, at } = this.queue[i];
      this.queue.splice(0, i + 1);
      const held = performance.now() - at;
      const shown = await this.view.showBlob(new Blob([data], { type: 'image/jpeg' }));
      if (shown && !this.closed) this.hooks.onFrame(meta, held);
    }
    this.showing = false;
  }

  /** newestReady is the index of the newest frame that may be shown, or -1. */
  newestReady() {
    const now = performance.now();
    for (let i = this.queue.length - 1; i >= 0; i--) {
      const f = this.queue[i];
      if (!this.hooks.ready || now - f.at >= HOLD_MS || this.hooks.ready(f.meta)) return i;
    }
    return -1;
  }

  onClose(ev) {
    if (this.closed) return;
    this.closed = true;
    this.queue = [];
    clearTimeout(this.holdTimer);
    let reason = this.error || ev.reason;
    if (!reason) reason = ev.code === 1006 ? 'JPEG stream: connection lost' : `JPEG stream closed (${ev.code})`;
    this.hooks.onEnd(reason);
  }

  close() {
    if (this.closed) return;
    this.closed = true;
    this.queue = [];
    clearTimeout(this.holdTimer);
    try {
      this.ws.close(1000);
    } catch {
      // Already closing.
    }
  }
}

/**
 * MjpegStream plays a camera's MJPEG stream in a JpegView's <img>.
 * hooks.onFrame runs once the first frame shows and again whenever the
 * picture is seen to change; hooks.onEnd(reason) if the stream fails.
 * Browsers say little about a multipart image: a stream that stops without
 * an error keeps showing its last frame, which only the pixels give away (a
 * perfectly still scene looks the same).
 */
export class MjpegStream {
  /**
   * @param {string} url
   * @param {JpegView} view
   * @param {{onFrame: () => void, onEnd: (reason: string) => void}} hooks
   */
  constructor(url, view, hooks) {
    this.view = view;
    this.hooks = hooks;
    this.closed = false;
    this.started = false; // the first frame has shown
    this.sample = null; // pixels of the last check, to compare with
    this.ctx = null;
    const img = view.img;
    this.onLoad = () => this.check();
    this.onError = () => {
      if (this.closed) return;
      this.close();
      hooks.onEnd('MJPEG stream failed');
    };
    img.addEventListener('load', this.onLoad);
    img.addEventListener('error', this.onError);
    view.play(url);
    // Not every browser fires load for the first part of a multipart image;
    // a decoded size says a frame is up.
    this.poll = setInterval(() => this.check(), MJPEG_FIRST_POLL_MS);
  }

  check() {
    if (this.closed || this.view.img.naturalWidth === 0) return;
    if (!this.started) {
      this.started = true;
      clearInterval(this.poll);
      this.poll = setInterval(() => this.check(), MJPEG_SAMPLE_MS);
      this.changed();
      this.hooks.onFrame();
      return;
    }
    if (this.changed()) this.hooks.onFrame();
  }

  // changed draws the picture small and compares it with the last sample.
  changed() {
    try {
      if (!this.ctx) {
        const canvas = document.createElement('canvas');
        canvas.width = MJPEG_SAMPLE_W;
        canvas.height = MJPEG_SAMPLE_H;
        this.ctx = canvas.getContext('2d', { willReadFrequently: true });
      }
      this.ctx.drawImage(this.view.img, 0, 0, MJPEG_SAMPLE_W, MJPEG_SAMPLE_H);
      const data = this.ctx.getImageData(0, 0, MJPEG_SAMPLE_W, MJPEG_SAMPLE_H).data;
      const prev = this.sample;
      this.sample = data;
      if (!prev || prev.length !== data.length) return true;
      for (let i = 0; i < data.length; i++) {
        if (data[i] !== prev[i]) return true;
      }
      return false;
    } catch {
      // Cannot look at the pixels here: claim nothing about freshness.
      return true;
    }
  }

  close() {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.poll);
    this.view.img.removeEventListener('load', this.onLoad);
    this.view.img.removeEventListener('error', this.onError);
    this.view.clear();
  }
}

/** SnapshotError is a failed snapshot request; retryMs is the server's Retry-After, or 0. */
export class SnapshotError extends Error {
  constructor(message, retryMs = 0) {
    super(message);
    this.name = 'SnapshotError';
    this.retryMs = retryMs;
  }
}

/**
 * SnapshotLoop shows a camera's snapshot.jpg in a JpegView, a new one every
 * everyMs. There is never more than one request in flight: the next starts
 * only after the previous one has finished (and at least everyMs after it
 * started), so a slow server or network never piles requests up.
 *
 * hooks.onFrame(key) runs for every picture shown that differs from the one
 * before (the server hands out the same picture again while its decoder has
 * nothing newer); key identifies the picture, and a new loop given it as
 * lastKey will not count that same picture as new. hooks.onEnd(reason,
 * retryMs) runs once when a request fails (a 503 with the server's reason and
 * Retry-After); the loop then stops. close() ends it quietly.
 */
export class SnapshotLoop {
  /**
   * @param {string} url
   * @param {JpegView} view
   * @param {{everyMs: number, lastKey?: string, onFrame: (key: string) => void, onEnd: (reason: string, retryMs: number) => void}} opts
   */
  constructor(url, view, opts) {
    this.url = url;
    this.view = view;
    this.opts = opts;
    this.lastKey = opts.lastKey ?? '';
    this.closed = false;
    this.ctl = null; // aborts the request in flight
    this.timer = 0;
    this.wake = null; // ends the wait between requests
    this.run();
  }

  async run() {
    while (!this.closed) {
      const started = performance.now();
      let got;
      try {
        got = await this.fetchOne();
      } catch (err) {
        if (this.closed) return;
        this.closed = true;
        this.opts.onEnd(err?.message ?? String(err), err?.retryMs ?? 0);
        return;
      }
      if (this.closed) return;
      if (got.key === null || got.key !== this.lastKey) {
        const shown = await this.view.showBlob(got.blob);
        if (this.closed) return;
        if (shown) {
          this.lastKey = got.key ?? '';
          this.opts.onFrame(this.lastKey);
        }
      }
      const wait = Math.max(0, this.opts.everyMs - (performance.now() - started));
      await new Promise((resolve) => {
        this.wake = resolve;
        this.timer = setTimeout(resolve, wait);
      });
    }
  }

  // fetchOne gets one snapshot: its bytes and a key naming the picture (the
  // server puts the picture's time in the file name), or null if unknown.
  async fetchOne() {
    const ctl = new AbortController();
    this.ctl = ctl;
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      ctl.abort();
    }, SNAPSHOT_TIMEOUT_MS);
    try {
      let res;
      try {
        res = await fetch(this.url, { cache: 'no-store', signal: ctl.signal });
      } catch {
        throw new SnapshotError(timedOut ? 'snapshot: server did not answer' : 'snapshot: server unreachable');
      }
      if (!res.ok) {
        const reason = await responseReason(res);
        const retryMs = res.status === 503 ? retryAfterMs(res) : 0;
        throw new SnapshotError(`snapshot: ${reason}`, retryMs);
      }
      let blob;
      try {
        blob = await res.blob();
      } catch {
        throw new SnapshotError(timedOut ? 'snapshot: server did not answer' : 'snapshot: connection lost');
      }
      const where = res.headers.get('Content-Disposition');
      return {
        blob: blob.type === 'image/jpeg' ? blob : new Blob([blob], { type: 'image/jpeg' }),
        key: where ? `${where}|${blob.size}` : null,
      };
    } finally {
      clearTimeout(timer);
      this.ctl = null;
    }
  }

  close() {
    if (this.closed) return;
    this.closed = true;
    this.ctl?.abort();
    clearTimeout(this.timer);
    this.wake?.();
  }
}

function retryAfterMs(res) {
  const secs = Number(res.headers.get('Retry-After'));
  if (!Number.isFinite(secs) || secs <= 0) return 0;
  return Math.min(Math.max(secs * 1000, RETRY_AFTER_MIN_MS), RETRY_AFTER_MAX_MS);
}

// responseReason is the server's plain-text reason for a failed request, or
// a few words from its status.
async function responseReason(res) {
  let text = '';
  try {
    text = (await res.text()).trim().slice(0, MAX_REASON_CHARS);
  } catch {
    // The status alone still says enough.
  }
  return text || `server error ${res.status}`;
}

/**
 * snapshotFilename is "{name}-{YYYYMMDD-HHMMSS}.jpg" in local time, with
 * characters that file systems refuse replaced.
 */
export function snapshotFilename(name, when = new Date()) {
  const p = (n) => String(n).padStart(2, '0');
  const stamp = `${when.getFullYear()}${p(when.getMonth() + 1)}${p(when.getDate())}`
    + `-${p(when.getHours())}${p(when.getMinutes())}${p(when.getSeconds())}`;
  const safe = name.replace(/[\\/:*?"<>|\u0000-\u001f]/g, '_');
  return `${safe}-${stamp}.jpg`;
}

/**
 * downloadSnapshot fetches one JPEG of the camera and saves it as a file. It
 * rejects with an Error whose message says why (the server's reason for a
 * 503, for example).
 */
export async function downloadSnapshot(name) {
  const when = new Date();
  let res;
  try {
    res = await fetch(snapshotEndpoint(name), { cache: 'no-store', signal: timeoutSignal(SNAPSHOT_TIMEOUT_MS) });
  } catch (err) {
    throw new Error(err?.name === 'TimeoutError' || err?.name === 'AbortError'
      ? 'server did not answer' : 'server unreachable');
  }
  if (!res.ok) throw new Error(await responseReason(res));
  const blob = await res.blob();
  const url = URL.createObjectURL(blob.type === 'image/jpeg' ? blob : new Blob([blob], { type: 'image/jpeg' }));
  const a = document.createElement('a');
  a.href = url;
  a.download = snapshotFilename(name, when);
  a.hidden = true;
  // Appended to <body>, outside any tile, so its click opens nothing.
  document.body.append(a);
  a.click();
  a.remove();
  // The download has started from the URL by the time this runs.
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}
