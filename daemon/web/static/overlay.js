// overlay.js draws what vision models found over a tile's picture, on the
// very frame they describe. Detections name their frame by its RTP
// timestamp (pts): a WebRTC frame tells its own through
// requestVideoFrameCallback, a JPEG over the WebSocket through the metadata
// before it. A frame shows, for each model, that model's detections of the
// frame itself or else its newest ones of an earlier frame, and never those
// of a later frame: late detections appear on the next frames, never ahead
// of the picture. MJPEG and snapshots carry no timestamps; they show each
// model's newest detections.
//
// A model answers some tens of milliseconds after the camera sent the
// frame, by which time the browser has usually shown it. While boxes are
// on and a model is answering, the page therefore shows the video that
// much later, so that each frame's detections are there when it is shown:
// a JPEG waits for them (up to HOLD_MS), and WebRTC's playout delay is
// raised by the measured lateness of the model's answers (PlayoutSync).

/** How long detections are kept, in RTP ticks (90 kHz): 5 s, as the server. */
const KEEP_TICKS = 5 * 90000;
const KEEP_MS = 5000;
/** How many draws a tile remembers when ?overlaylog=1 (for tests). */
const LOG_MAX = 600;
/** A model counts as answering for this long after its last detections. */
const ACTIVE_MS = 1500;
/** How long lateness samples count, in ms. */
const LATENESS_WINDOW_MS = 3000;
/** How many frames' show and arrival times are remembered. */
const TIMES_MAX = 256;
/** One frame at 25 fps in RTP ticks: the spacing assumed of a new model. */
const DEFAULT_SPACING = 3600;
const PALETTE = ['#ff4d4d', '#4dd2ff', '#ffd24d', '#7dff4d', '#ff4dd2', '#4d7dff', '#ff9f4d', '#4dffb8'];

/** ticks is b - a in RTP time, across the 32-bit wrap. */
function ticks(a, b) {
  return (b - a) | 0;
}

/** colorOf picks a label's color: the same label, the same color. */
function colorOf(label) {
  let h = 0;
  for (let i = 0; i < label.length; i++) h = (h * 31 + label.charCodeAt(i)) | 0;
  return PALETTE[Math.abs(h) % PALETTE.length];
}

/** remember sets a key in a map that keeps only its newest TIMES_MAX keys. */
function remember(map, key, value) {
  map.set(key, value);
  if (map.size > TIMES_MAX) map.delete(map.keys().next().value);
}

/** spacing is a model's usual step between the frames it looks at, in ticks. */
function spacing(gaps) {
  if (gaps.length === 0) return DEFAULT_SPACING;
  const sorted = [...gaps].sort((a, b) => a - b);
  return sorted[sorted.length >> 1];
}

const logging = new URLSearchParams(location.search).get('overlaylog') === '1';

export class Overlay {
  /**
   * @param {HTMLElement} frame the tile's .frame, which the canvas covers
   * @param {HTMLElement} caption where the models' names go
   * @param {string} camera the camera's name
   */
  constructor(frame, caption, camera) {
    this.canvas = document.createElement('canvas');
    this.canvas.className = 'overlay';
    this.canvas.setAttribute('aria-hidden', 'true');
    this.frame = frame;
    this.caption = caption;
    /** @type {Map<string, object[]>} model → detections, oldest first */
    this.byModel = new Map();
    this.pts = null; // the frame on screen; null: unknown (MJPEG, snapshots)
    this.picture = null; // the element that shows it
    this.enabled = true;
    this.drawn = false; // the canvas has boxes on it
    /** @type {Map<string, {at: number, pts: number, gaps: number[]}>} model → when it last answered */
    this.models = new Map();
    /** @type {Map<number, number>} pts → when its frame was shown */
    this.shownAt = new Map();
    /** @type {Map<number, number>} pts → when its first detections arrived */
    this.arrivedAt = new Map();
    /** @type {{at: number, ms: number}[]} how late detections came for their frame */
    this.lateness = [];
    this.delayMs = 0; // how much later the video shows, to wait for the models
    /** onAdd runs after each detections event (the JPEG socket waits on it). */
    this.onAdd = null;
    /** @type {{pts: number|null, drawn: object[]}[]|null} */
    this.log = null;
    if (logging) {
      // ?overlaylog=1: every draw is kept, for tests to compare with the
      // picture on screen.
      this.log = [];
      (window.edgecamOverlays ??= {})[camera] = this;
    }
  }

  /** add takes one detections event for this camera. */
  add(d) {
    if (typeof d?.pts !== 'number' || typeof d.model !== 'string' || !Array.isArray(d.objects)) return;
    let list = this.byModel.get(d.model);
    if (!list) {
      list = [];
      this.byModel.set(d.model, list);
    }
    // Models answer in frame order, nearly always: keep the list sorted.
    let i = list.length;
    while (i > 0 && ticks(list[i - 1].pts, d.pts) < 0) i--;
    list.splice(i, 0, d);
    const newest = list[list.length - 1].pts;
    while (list.length > 1 && ticks(list[0].pts, newest) > KEEP_TICKS) list.shift();
    this.answered(d.model, d.pts);
    // It may belong on the frame already on screen (a frame shows the
    // newest detections up to its own): draw it now, not a frame later.
    if (this.pts === null || ticks(d.pts, this.pts) >= 0) this.draw();
    this.onAdd?.();
  }

  /** answered notes when a model answered for a frame, and how late. */
  answered(model, pts) {
    const now = performance.now();
    let m = this.models.get(model);
    if (!m) {
      m = { at: now, pts, gaps: [] };
      this.models.set(model, m);
    } else {
      const gap = ticks(m.pts, pts);
      if (gap > 0) {
        m.gaps.push(gap);
        if (m.gaps.length > 9) m.gaps.shift();
        m.pts = pts;
      }
      m.at = now;
    }
    if (this.arrivedAt.has(pts)) return;
    remember(this.arrivedAt, pts, now);
    const shown = this.shownAt.get(pts);
    if (shown !== undefined) this.late(now - shown);
  }

  late(ms) {
    const now = performance.now();
    this.lateness.push({ at: now, ms });
    while (this.lateness.length && now - this.lateness[0].at > LATENESS_WINDOW_MS) this.lateness.shift();
  }

  /**
   * latenessMs is the q-quantile of how long after its frame was shown a
   * model's answer came, over the last few seconds (negative: before it);
   * null without enough samples.
   */
  latenessMs(q) {
    const now = performance.now();
    const ms = this.lateness.filter((s) => now - s.at <= LATENESS_WINDOW_MS).map((s) => s.ms).sort((a, b) => a - b);
    if (ms.length < 5) return null;
    return ms[Math.min(ms.length - 1, Math.floor(q * ms.length))];
  }

  /** held notes how long a picture was held for the models, in ms. */
  held(ms) {
    this.delayMs += (ms - this.delayMs) / 8;
  }

  /** forgetLateness starts the measure afresh, after the playout delay changed. */
  forgetLateness() {
    this.lateness = [];
  }

  /** waiting tells whether the page should hold frames for the models. */
  waiting() {
    if (!this.enabled) return false;
    const now = performance.now();
    for (const m of this.models.values()) {
      if (now - m.at <= ACTIVE_MS) return true;
    }
    return false;
  }

  /**
   * ready tells whether every model that is answering has answered for the
   * frame with this pts: it sent detections of this frame or a later one,
   * or of the last frame it looks at before this one (a model reading 5 of
   * the camera's 25 frames a second answers only every fifth).
   */
  ready(pts) {
    if (typeof pts !== 'number' || !this.enabled) return true;
    const now = performance.now();
    for (const m of this.models.values()) {
      if (now - m.at > ACTIVE_MS) continue;
      if (ticks(pts, m.pts) >= 0) continue;
      if (ticks(m.pts, pts) < spacing(m.gaps)) continue;
      return false;
    }
    return true;
  }

  /**
   * show is called for every frame put on screen: its pts (null when the
   * transport does not say) and the element showing it.
   */
  show(pts, picture) {
    this.pts = typeof pts === 'number' ? pts : null;
    this.picture = picture;
    if (this.pts !== null && !this.shownAt.has(this.pts)) {
      const now = performance.now();
      remember(this.shownAt, this.pts, now);
      const arrived = this.arrivedAt.get(this.pts);
      if (arrived !== undefined) this.late(arrived - now);
    }
    this.draw();
  }

  setEnabled(on) {
    this.enabled = on;
    this.draw();
  }

  /**
   * current returns, per model, the detections the frame on screen shows
   * (none while the boxes are off).
   */
  current() {
    const out = [];
    if (!this.enabled) return out;
    const now = performance.now();
    for (const [model, list] of this.byModel) {
      // A model that stopped answering leaves no boxes behind: nothing
      // older than the window the server keeps is drawn.
      if (now - this.models.get(model).at > KEEP_MS) continue;
      for (let i = list.length - 1; i >= 0; i--) {
        const age = this.pts === null ? 0 : ticks(list[i].pts, this.pts);
        if (age >= 0 && age <= KEEP_TICKS) {
          out.push(list[i]);
          break;
        }
      }
    }
    return out;
  }

  draw() {
    const shown = this.current();
    const names = [...new Set(shown.filter((d) => d.objects.length > 0).map((d) => d.model))];
    // The caption says which models drew, and how much later than it could
    // the video shows for their boxes to match it.
    const delay = this.delayMs >= 10 ? ` · video +${Math.round(this.delayMs)} ms` : '';
    const caption = names.length ? names.join(', ') + delay : '';
    if (this.caption.textContent !== caption) this.caption.textContent = caption;
    if (this.caption.hidden !== (names.length === 0)) this.caption.hidden = names.length === 0;
    if (this.log) {
      this.log.push({ pts: this.pts, drawn: shown.map((d) => ({ model: d.model, pts: d.pts, objects: d.objects })) });
      if (this.log.length > LOG_MAX) this.log.shift();
    }
    // A clear canvas with nothing to draw is left alone. Sized and cleared
    // for every frame, as it was, each tile's canvas cost the browser a
    // layout read and a canvas upload per frame with no model at all: on
    // the 2-core VM about 3 ms a frame for a tile of a 2×2 wall, over 20
    // for a single 1080p tile (docs/performance.md).
    if (names.length === 0 && !this.drawn) return;
    const ctx = this.prepare();
    this.drawn = false;
    if (!ctx) return;
    const area = this.contentBox();
    if (!area) return;
    const scale = window.devicePixelRatio || 1;
    ctx.lineWidth = 2 * scale;
    ctx.font = `${Math.round(12 * scale)}px sans-serif`;
    ctx.textBaseline = 'top';
    for (const d of shown) {
      for (const o of d.objects) this.box(ctx, area, o, scale);
    }
    this.drawn = names.length > 0;
  }

  box(ctx, area, o, scale) {
    const b = o.box ?? {};
    const x = area.x + b.x * area.w;
    const y = area.y + b.y * area.h;
    const w = b.w * area.w;
    const h = b.h * area.h;
    const color = /^#[0-9a-f]{6}$/i.test(o.color ?? '') ? o.color : colorOf(String(o.label));
    ctx.strokeStyle = color;
    ctx.strokeRect(x, y, w, h);
    const text = `${o.label} ${Math.round((o.score ?? 0) * 100)}%`;
    const tw = ctx.measureText(text).width + 6 * scale;
    const th = 16 * scale;
    const ty = y >= th ? y - th : y;
    ctx.fillStyle = color;
    ctx.fillRect(x, ty, tw, th);
    ctx.fillStyle = '#000';
    ctx.fillText(text, x + 3 * scale, ty + 2 * scale);
  }

  /** prepare sizes the canvas to the frame and clears it. */
  prepare() {
    const scale = window.devicePixelRatio || 1;
    const w = Math.round(this.frame.clientWidth * scale);
    const h = Math.round(this.frame.clientHeight * scale);
    if (this.canvas.width !== w || this.canvas.height !== h) {
      this.canvas.width = w;
      this.canvas.height = h;
    }
    const ctx = this.canvas.getContext('2d');
    ctx?.clearRect(0, 0, w, h);
    return ctx;
  }

  /**
   * contentBox is where the picture is drawn inside the frame, in canvas
   * pixels: the elements scale it to fit, keeping its aspect (object-fit:
   * contain).
   */
  contentBox() {
    const p = this.picture;
    const pw = p?.videoWidth || p?.naturalWidth || 0;
    const ph = p?.videoHeight || p?.naturalHeight || 0;
    if (!pw || !ph) return null;
    const cw = this.canvas.width;
    const ch = this.canvas.height;
    const k = Math.min(cw / pw, ch / ph);
    const w = pw * k;
    const h = ph * k;
    return { x: (cw - w) / 2, y: (ch - h) / 2, w, h };
  }
}

/** How often PlayoutSync adjusts the delay. */
const SYNC_EVERY_MS = 1000;
/** How far ahead of its frame a model's answer should come. */
const SYNC_MARGIN_MS = 15;
/** The most delay PlayoutSync adds: a slower model's boxes come late. */
const SYNC_MAX_MS = 1000;

/**
 * PlayoutSync delays a WebRTC video by as much as a model's answers are
 * late for the frames they describe, through the receiver's
 * jitterBufferTarget, while the overlay waits for models; and takes the
 * delay away when it no longer does (boxes off, or no model answering).
 * Browsers without jitterBufferTarget draw late boxes on later frames.
 */
export class PlayoutSync {
  /**
   * @param {RTCRtpReceiver} receiver the video's
   * @param {Overlay} overlay
   */
  constructor(receiver, overlay) {
    this.rtpReceiver = receiver;
    this.overlay = overlay;
    this.target = 0; // ms set on the receiver; 0: none
    this.base = 0; // the buffer's delay with no target: what the target adds to
    this.stats = null; // last jitter buffer totals, for the delay since
    this.timer = setInterval(() => this.tick(), SYNC_EVERY_MS);
  }

  receiver() {
    return 'jitterBufferTarget' in this.rtpReceiver ? this.rtpReceiver : null;
  }

  async tick() {
    const r = this.receiver();
    if (!r) return;
    if (!this.overlay.waiting()) {
      if (this.target) this.set(r, 0);
      return;
    }
    const delay = await this.bufferMs();
    const late = this.overlay.latenessMs(0.95);
    if (delay === null || !this.timer) return;
    if (!this.target) this.base = delay;
    if (late === null) return;
    const error = late + SYNC_MARGIN_MS;
    let next = this.target;
    if (error > 0) {
      // The buffer delay may exceed the target already; build on what it is.
      next = Math.max(this.target, delay) + error;
    } else if (error < -2 * SYNC_MARGIN_MS) {
      // Early by more than the margin (the model sped up, or the start
      // of a session made it look slow): take the excess back.
      next = Math.max(0, this.target + error);
    }
    this.set(r, Math.min(SYNC_MAX_MS, Math.round(next)));
  }

  set(r, ms) {
    if (ms === this.target) return;
    try {
      r.jitterBufferTarget = ms || null;
    } catch {
      return;
    }
    this.target = ms;
    this.overlay.delayMs = ms ? Math.max(0, ms - this.base) : 0;
    this.overlay.forgetLateness();
  }

  /** bufferMs is the jitter buffer's mean delay since the last call. */
  async bufferMs() {
    let now = null;
    try {
      (await this.rtpReceiver.getStats()).forEach((s) => {
        if (s.type === 'inbound-rtp' && s.kind === 'video' && typeof s.jitterBufferDelay === 'number') {
          now = { delay: s.jitterBufferDelay, count: s.jitterBufferEmittedCount };
        }
      });
    } catch {
      return null;
    }
    const prev = this.stats;
    this.stats = now;
    if (!now || !prev || now.count <= prev.count) return null;
    return (1000 * (now.delay - prev.delay)) / (now.count - prev.count);
  }

  close() {
    clearInterval(this.timer);
    this.timer = 0;
  }
}
