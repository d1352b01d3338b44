// Which of a camera's streams a tile plays. A camera with a sub-stream
// (sub_url) has two: the grid plays the small one, which costs the box, the
// network and the browser a fraction of the main one, and the full-size
// view the main one. Either falls back to the other while it is down.

// READY streams give pictures now, or as soon as someone plays them (an
// on-demand stream is idle until then). DOWN streams give none and will not
// soon: a tile leaves such a stream for the other one, and comes back only
// once it is READY again, so a stream failing over and over (connecting,
// retrying, connecting, …) does not drag the tile back and forth.
const READY = new Set(['streaming', 'idle']);
const DOWN = new Set(['retrying', 'unsupported', 'stale', 'disabled']);

/**
 * chooseStream returns 'main' or 'sub': the stream a tile of camera cam (an
 * entry of GET /api/cameras) plays, full size when single, given the one it
 * plays now (current; undefined before the first). It wants the sub-stream
 * in the grid and the main stream full size; it keeps the wanted one until
 * that is down while the other is not, and returns to it once it is ready.
 * @param {object} cam
 * @param {boolean} single
 * @param {string|undefined} current
 */
export function chooseStream(cam, single, current) {
  if (!cam?.sub) return 'main';
  const want = single ? 'main' : 'sub';
  const other = single ? 'sub' : 'main';
  const wanted = streamStatus(cam, want).state;
  const alternative = streamStatus(cam, other).state;
  if (current === want) return DOWN.has(wanted) && !DOWN.has(alternative) ? other : want;
  if (READY.has(wanted) || DOWN.has(alternative)) return want;
  return other;
}

/**
 * streamStatus returns the API's health of one of the camera's streams: the
 * camera object itself for 'main', its `sub` for 'sub'.
 */
export function streamStatus(cam, stream) {
  return stream === 'sub' && cam?.sub ? cam.sub : cam;
}

/** withStream adds ?stream=sub to a camera endpoint's URL for the sub-stream. */
export function withStream(url, stream) {
  if (stream !== 'sub') return url;
  return `${url}${url.includes('?') ? '&' : '?'}stream=sub`;
}

/**
 * warmPeerConnection returns a peer connection that starts gathering its ICE
 * candidates now, for a WhepSession started later: a tile that switches
 * stream then skips the browser's gathering, the largest part of a new
 * session's start. It holds a few local sockets and nothing on the server.
 */
export function warmPeerConnection() {
  return new RTCPeerConnection({ iceCandidatePoolSize: 1 });
}
