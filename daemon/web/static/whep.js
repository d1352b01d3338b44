// WHEP client for edgecam: one receive-only H.264 (or H.265) video session.
//
// The server does not take trickled ICE candidates, and needs none: the
// offer is sent at once, without waiting for the browser's candidates.

const POST_TIMEOUT_MS = 10000;
// close() waits this long at most for the server to answer its DELETE
// before closing the peer connection anyway.
const DELETE_WAIT_MS = 2000;
const MAX_REASON_CHARS = 200;

// The run of the server the page last heard from (the camera list's
// `instance`): sessions opened under another run are gone with it.
let serverInstance = null;

/**
 * setServerInstance records the server run the camera list names; a change
 * means the daemon restarted and took every session with it.
 */
export function setServerInstance(instance) {
  if (typeof instance === 'string' && instance) serverInstance = instance;
}

/** WhepError is a failed session set-up; status is the HTTP status or 0. */
export class WhepError extends Error {
  constructor(message, status = 0) {
    super(message);
    this.name = 'WhepError';
    this.status = status;
  }
}

/** whepEndpoint returns the WHEP URL path for a camera name. */
export function whepEndpoint(name) {
  return `/cameras/${encodeURIComponent(name)}/whep`;
}

/** browserDecodesH264 reports whether WebRTC here can receive H.264, or null if unknown. */
export function browserDecodesH264() {
  return browserDecodes('H264');
}

/**
 * browserDecodes reports whether WebRTC here can receive a codec as the API
 * names it ('H264', 'H265'), or null if unknown.
 */
export function browserDecodes(codec) {
  const caps = videoCapabilities();
  if (!caps) return null;
  const mime = `video/${codec}`.toLowerCase();
  return caps.codecs.some((c) => c.mimeType.toLowerCase() === mime);
}

let capabilities; // undefined until asked; null where the API is missing

// videoCapabilities is what this browser's WebRTC receives, asked once: a
// wall asks for every tile, and the answer does not change.
function videoCapabilities() {
  if (capabilities === undefined) {
    capabilities = globalThis.RTCRtpReceiver?.getCapabilities?.('video') ?? null;
  }
  return capabilities;
}

// spare is a peer connection made ahead, with one receive-only video
// transceiver and its offer under way: { pc, transceiver, offer }.
let spare = null;

/**
 * prepareSpare makes a peer connection and its offer ahead, while the page
 * waits for its camera list: the page's first session (a WhepSession, or a
 * wall's first connection) takes it. The first offer of a page is its
 * slowest, as it starts the browser's WebRTC engine; made ahead it costs
 * the first picture nothing. It holds no socket until it is used.
 */
export function prepareSpare() {
  if (spare || typeof RTCPeerConnection !== 'function') return;
  try {
    const pc = new RTCPeerConnection({ bundlePolicy: 'max-bundle' });
    const transceiver = pc.addTransceiver('video', { direction: 'recvonly' });
    preferH264(transceiver);
    spare = { pc, transceiver, offer: pc.createOffer().catch(() => null) };
  } catch {
    // Sessions make their own; a page without WebRTC falls back anyway.
  }
}

function takeSpare() {
  const s = spare;
  spare = null;
  return s;
}

/** CODEC_REFUSED is the status of a WHEP offer that cannot take the camera's codec. */
export const CODEC_REFUSED = 406;

/**
 * WhepSession owns one RTCPeerConnection and the server-side session behind
 * it. Attach listeners to `pc` before calling start(); call close() exactly
 * when done, it always ends the server-side session too. pc, if given, is
 * a fresh peer connection to use (one that gathered its candidates ahead).
 */
export class WhepSession {
  constructor(endpoint, pc = null) {
    this.endpoint = endpoint;
    // Without a peer connection of its own, the session takes the page's
    // spare one (prepareSpare), offer and all.
    this.spare = pc ? null : takeSpare();
    this.pc = pc ?? this.spare?.pc ?? new RTCPeerConnection();
    this.location = null;
    this.instance = null;
    this.closed = false;
    // onStage(name), if set, is told when the offer is posted
    // ('whep-post') and answered ('whep-answer'), for the page's marks.
    this.onStage = null;
    // The session's transceiver and its receiver, from start() on.
    this.transceiver = null;
    this.receiver = null;
  }

  /**
   * start negotiates the session; it rejects with WhepError on failure.
   * The receiver is there as soon as it is called.
   */
  async start() {
    const pc = this.pc;
    const spare = this.spare;
    this.spare = null;
    const transceiver = spare?.transceiver ?? pc.addTransceiver('video', { direction: 'recvonly' });
    this.transceiver = transceiver;
    this.receiver = transceiver.receiver;
    if (!spare) preferH264(transceiver);

    // The offer leaves at once, without the browser's candidates: waiting
    // for ICE gathering was the largest part of a tile's start (150 ms
    // here). The server needs none of them: the browser's connectivity
    // checks reach the one UDP port of the answer's candidates, and the
    // server answers where they came from (peer-reflexive), as it does for
    // the mDNS names browsers put in their offers anyway. And it is posted
    // while the browser applies it (setLocalDescription starts its ICE
    // agent), so that the two overlap instead of adding up.
    const offer = (await spare?.offer) ?? await pc.createOffer();
    const applied = pc.setLocalDescription(offer).then(() => null, (err) => err);
    if (this.closed) throw new WhepError('closed');

    this.onStage?.('whep-post');
    const res = await postOffer(this.endpoint, offer.sdp);

    this.onStage?.('whep-answer');
    const err = await applied;
    if (err) {
      if (res.status === 201) this.locate(res);
      this.deleteRemote();
      throw new WhepError(`the browser refused its own offer: ${err?.message ?? err}`);
    }
    if (res.status !== 201 && res.status !== 200) {
      throw new WhepError(await describeFailure(res), res.status);
    }
    this.locate(res);
    const answer = await res.text();
    if (this.closed) {
      // close() ran while the POST was in flight; the server session exists
      // now, so end it here.
      this.deleteRemote();
      throw new WhepError('closed');
    }
    try {
      await pc.setRemoteDescription({ type: 'answer', sdp: answer });
    } catch (err) {
      throw new WhepError(`bad answer from server: ${err?.message ?? err}`);
    }
    this.onStage?.('whep-applied');
  }

  // locate keeps the session's URL from a 201's Location, for the DELETE.
  locate(res) {
    const loc = res.headers.get('Location');
    if (!loc) return;
    this.location = new URL(loc, new URL(this.endpoint, document.baseURI)).href;
    this.instance = serverInstance;
  }

  /** close DELETEs the server-side session and ends the peer connection. */
  close() {
    if (this.closed) return;
    this.closed = true;
    const pc = this.pc;
    const deleted = this.deleteRemote();
    if (!deleted) {
      pc.close();
      return;
    }
    // A closed peer connection ends the server's session by itself, and a
    // DELETE arriving after that is answered 404 (a console error in the
    // browser): so DELETE first, then close.
    const timer = setTimeout(() => pc.close(), DELETE_WAIT_MS);
    deleted.finally(() => {
      clearTimeout(timer);
      pc.close();
    });
  }

  // deleteRemote ends the server-side session; it returns the request, or
  // null when there is no session to end.
  deleteRemote() {
    const deleted = deleteSession(this.location, this.instance, this.pc);
    this.location = null;
    return deleted;
  }
}

/** WALL_ENDPOINT answers one offer for several cameras (docs/api.md). */
const WALL_ENDPOINT = '/whep';
// WALL_SIZE is the most cameras one peer connection of a wall carries.
// Chromium applies an answer's video sections one after another, before
// its ICE checks start, and the cost grows faster than their number: on
// two cores, 16 sections took 550 ms to apply, 8 took 80. Sixteen
// cameras start fastest as two connections of eight (docs/performance.md).
const WALL_SIZE = 8;

/**
 * WhepWall puts the sessions tiles ask for in the same turn of the page's
 * event loop into one peer connection and one offer: a wall of sixteen
 * cameras then does one offer, one ICE check and one DTLS handshake
 * instead of sixteen of each, which on a weak display was most of the
 * time until its last tile played. Every camera is still a session of its
 * own on the server, ended alone when its tile closes it; the peer
 * connection closes with the last of them.
 */
export class WhepWall {
  constructor() {
    this.batch = null;
  }

  /**
   * session returns a session for one camera's stream ('main' | 'sub')
   * that behaves as a WhepSession whose pc it shares with the others of
   * its turn; start (e.g. 'keyframe') goes to the server for all of them.
   * When the shared offer fails, its start() rejects with a WhepError
   * whose `alone` is true: the tile should try again on a session of its
   * own, and nothing of the failure is the camera's.
   */
  session(camera, stream, start = '') {
    let batch = this.batch;
    if (!batch) {
      batch = new WallBatch(start);
      this.batch = batch;
      queueMicrotask(() => this.send(batch));
    }
    const member = batch.add(camera, stream);
    // A full connection's offer goes at once, while the page starts the
    // next tiles.
    if (batch.members.length >= WALL_SIZE) this.send(batch);
    return member;
  }

  send(batch) {
    if (this.batch === batch) this.batch = null;
    if (batch.sent) return;
    batch.sent = true;
    batch.send();
  }
}

// WallBatch is one shared peer connection and its offer.
class WallBatch {
  constructor(start) {
    this.start = start;
    // max-bundle: one transport from the offer on. Otherwise the browser
    // opens one per video section and moves them all onto the first when
    // the answer bundles them, which for sixteen sections took longer
    // than everything else of a start.
    const spare = takeSpare();
    this.pc = spare?.pc ?? new RTCPeerConnection({ bundlePolicy: 'max-bundle' });
    // The spare's transceiver is the first member's; its offer, of one
    // section, is made again with all of them.
    this.spareTransceiver = spare?.transceiver ?? null;
    this.members = [];
    this.open = 0;
    this.sent = false;
    this.settled = null;
    this.done = new Promise((resolve) => { this.settled = resolve; });
  }

  add(camera, stream) {
    const m = new WallMember(this, camera, stream);
    this.members.push(m);
    this.open++;
    return m;
  }

  url() {
    const q = new URLSearchParams();
    for (const m of this.members) q.append('camera', m.camera);
    for (const m of this.members) q.append('stream', m.stream);
    if (this.start) q.set('start', this.start);
    return `${WALL_ENDPOINT}?${q}`;
  }

  async send() {
    let err = null;
    try {
      await this.negotiate();
    } catch (e) {
      err = e instanceof WhepError ? e : new WhepError(String(e?.message ?? e));
      err.alone = true;
    }
    this.settled(err);
  }

  async negotiate() {
    const pc = this.pc;
    if (this.open === 0) return; // every tile left before the offer
    const offer = await pc.createOffer();
    const applied = pc.setLocalDescription(offer).then(() => null, (e) => e);
    for (const m of this.members) m.onStage?.('whep-post');
    const res = await postOffer(this.url(), offer.sdp);
    for (const m of this.members) m.onStage?.('whep-answer');
    if (res.status === 201) this.locate(res);
    const failed = await applied;
    if (failed) {
      this.deleteAll();
      throw new WhepError(`the browser refused its own offer: ${failed?.message ?? failed}`);
    }
    if (res.status !== 201) throw new WhepError(await describeFailure(res), res.status);
    const answer = await res.text();
    // Tiles that left while the offer was on its way end their sessions now.
    for (const m of this.members) if (m.closed) m.deleteRemote();
    if (this.open === 0) return;
    try {
      await pc.setRemoteDescription({ type: 'answer', sdp: answer });
    } catch (e) {
      this.deleteAll();
      throw new WhepError(`bad answer from server: ${e?.message ?? e}`);
    }
    for (const m of this.members) m.onStage?.('whep-applied');
  }

  // locate gives each member its session's URL, from the answer's
  // Edgecam-Sessions (in the order of the cameras) or, for one, Location.
  locate(res) {
    const list = res.headers.get('Edgecam-Sessions');
    const urls = list ? list.split(',').map((u) => u.trim()) : [res.headers.get('Location')];
    this.members.forEach((m, i) => {
      if (!urls[i]) return;
      m.location = new URL(urls[i], document.baseURI).href;
      m.instance = serverInstance;
    });
  }

  deleteAll() {
    for (const m of this.members) m.deleteRemote();
  }

  // leave is a member's end: the last one closes the peer connection, once
  // the offer is through and the server answered the members' DELETEs
  // (see WhepSession.close), or after DELETE_WAIT_MS.
  leave() {
    this.open--;
    if (this.open > 0) return;
    const timer = setTimeout(() => this.pc.close(), DELETE_WAIT_MS);
    this.done.then(() => Promise.allSettled(this.members.map((m) => m.deleting))).then(() => {
      clearTimeout(timer);
      this.pc.close();
    });
  }
}

// WallMember is one camera's session in a WallBatch.
class WallMember {
  constructor(batch, camera, stream) {
    this.batch = batch;
    this.camera = camera;
    this.stream = stream === 'sub' ? 'sub' : 'main';
    this.pc = batch.pc;
    this.transceiver = batch.spareTransceiver ?? batch.pc.addTransceiver('video', { direction: 'recvonly' });
    preferH264(this.transceiver, true);
    batch.spareTransceiver = null;
    this.receiver = this.transceiver.receiver;
    this.location = null;
    this.instance = null;
    this.closed = false;
    this.deleting = null;
    this.onStage = null;
  }

  /** start resolves once the shared offer is answered. */
  async start() {
    const err = await this.batch.done;
    if (err) throw err;
    if (this.closed) throw new WhepError('closed');
  }

  close() {
    if (this.closed) return;
    this.closed = true;
    this.deleteRemote();
    this.batch.leave();
  }

  deleteRemote() {
    this.deleting = deleteSession(this.location, this.instance, this.pc) ?? this.deleting;
    this.location = null;
    return this.deleting;
  }
}

// postOffer posts an SDP offer; it rejects with WhepError when no answer
// comes.
async function postOffer(url, sdp) {
  try {
    return await fetch(url, {
      method: 'POST',
      headers: { 'Content-Type': 'application/sdp', Accept: 'application/sdp' },
      body: sdp,
      cache: 'no-store',
      signal: timeoutSignal(POST_TIMEOUT_MS),
    });
  } catch (err) {
    throw new WhepError(err?.name === 'TimeoutError' || err?.name === 'AbortError'
      ? 'server did not answer' : 'server unreachable');
  }
}

// deleteSession ends the server-side session at url, opened under the
// server run instance, on peer connection pc; it returns the request, or
// null when there is nothing to end.
function deleteSession(url, instance, pc) {
  if (!url) return null;
  // A session of a server run that has ended is already gone: a DELETE
  // would only be answered 404 (an error in the console). So is one whose
  // connection failed: the server ended it when its ICE did.
  if ((instance && serverInstance && instance !== serverInstance) || pc.connectionState === 'failed') {
    return null;
  }
  // keepalive lets the request outlive the page on pagehide.
  return fetch(url, { method: 'DELETE', keepalive: true, cache: 'no-store' }).catch(() => {});
}

async function describeFailure(res) {
  let text = '';
  try {
    text = (await res.text()).trim().slice(0, MAX_REASON_CHARS);
  } catch {
    // The status alone still says enough.
  }
  const what = {
    400: 'offer rejected',
    404: 'camera not found',
    503: 'camera unavailable',
  }[res.status] ?? `server error ${res.status}`;
  // A codec refusal's body is the whole reason, meant for the tile.
  if (res.status === CODEC_REFUSED && text) return text;
  if (!text) return what;
  // Servers often say the same thing in the body; do not repeat it.
  return text.toLowerCase().startsWith(what) ? text : `${what}: ${text}`;
}

// preferH264 puts H.264 first in the offer; the server only sends H.264 and
// some browsers offer VP8 first. only leaves the H.264 the server can send
// (packetization-mode=1) alone in the offer, for a camera known to send
// it: a wall's offer of eight sections is then 16 KB instead of 40.
function preferH264(transceiver, only = false) {
  const orders = codecOrders();
  if (!orders || typeof transceiver.setCodecPreferences !== 'function') return;
  try {
    transceiver.setCodecPreferences(only ? orders.h264 : orders.all);
  } catch {
    // Keep the browser's default order; the server still picks H.264.
  }
}

let orders; // undefined until asked; null without H.264 or the API

// codecOrders is the codec lists preferH264 gives, made once: a wall sets
// them on every one of its transceivers as the page starts.
function codecOrders() {
  if (orders !== undefined) return orders;
  orders = null;
  const caps = videoCapabilities();
  const isH264 = (c) => c.mimeType.toLowerCase() === 'video/h264';
  const h264 = caps?.codecs.filter(isH264) ?? [];
  if (h264.length === 0) return orders;
  const mode1 = h264.filter((c) => /packetization-mode=1/.test(c.sdpFmtpLine ?? ''));
  orders = {
    all: [...h264, ...caps.codecs.filter((c) => !isH264(c))],
    h264: mode1.length ? mode1 : h264,
  };
  return orders;
}

/** timeoutSignal is AbortSignal.timeout with a fallback for older browsers. */
export function timeoutSignal(ms) {
  if (typeof AbortSignal.timeout === 'function') return AbortSignal.timeout(ms);
  const ctl = new AbortController();
  setTimeout(() => ctl.abort(), ms);
  return ctl.signal;
}
