// Which of a camera's streams a tile plays. A camera with a sub-stream
// (sub_url) has two: the grid plays the small one, which costs the box, the
// network and the browser a fraction of the main one, and the full-size
// view the main one. Either falls back to the other while it is down.

// States in which a stream gives pictures now, or will as soon as it is
// asked (an on-demand stream is idle until someone plays it).
const USABLE = new Set(['streaming', 'idle']);

function usable(status) {
  return Boolean(status) && USABLE.has(status.state);
}

/**
 * chooseStream returns 'main' or 'sub': the stream a tile of camera cam (an
 * entry of GET /api/cameras) plays, full size when single. It wants the
 * sub-stream in the grid and the main stream full size, and takes the other
 * while the one it wants is down and the other is not; it comes back by
 * itself once the camera list says the wanted one streams again.
 * @param {object} cam
 * @param {boolean} single
 */
export function chooseStream(cam, single) {
  if (!cam?.sub) return 'main';
  const want = single ? 'main' : 'sub';
  const other = single ? 'sub' : 'main';
  if (usable(streamStatus(cam, want)) || !usable(streamStatus(cam, other))) return want;
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
