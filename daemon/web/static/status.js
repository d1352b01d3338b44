// What the page says about a camera's health, in words an operator acts
// on: the server classifies each failure (reason, down_since, next_retry,
// address in /api/cameras); this module turns that into sentences, counts
// the cameras by the server's state for the header, and asks the server to
// retry a camera at once.

// The box's clock minus the browser's, from the camera list's "time": the
// page counts "offline for" and "next try in" on the box's clock, since an
// edge box and a wall screen rarely agree on the time.
let clockSkewMs = 0;

/** setServerClock notes the box's clock from a camera list. */
export function setServerClock(time) {
  const t = Date.parse(time);
  if (Number.isFinite(t)) clockSkewMs = t - Date.now();
}

function serverNow() {
  return Date.now() + clockSkewMs;
}

// API states in which the camera itself is not delivering video.
const DOWN_STATES = new Set(['retrying', 'unsupported', 'disabled']);

/**
 * healthOf says what the server reports of one stream, as the header counts
 * it and each tile's data-health shows it: streaming, offline, frozen,
 * starting, idle or disabled.
 *
 * A new attempt during an outage (connecting with down_since set) stays
 * offline: the server holds down_since until frames flow again, so a
 * camera that keeps failing does not flip between "offline" and
 * "connecting", nor a frozen one between "frozen" and "offline", with each
 * attempt. The hysteresis lives on the server because only it sees every
 * attempt; the page sees samples of them.
 */
export function healthOf(s) {
  const state = s?.state || '';
  if (state === 'streaming') return 'streaming';
  if (state === 'disabled') return 'disabled';
  if (state === 'idle') return 'idle';
  if (state === 'stale') return 'frozen';
  if (DOWN_STATES.has(state) || (state === 'connecting' && s.down_since)) return 'offline';
  return 'starting';
}

// What each reason means, with what to check. {addr} is the camera's
// host:port, never with a user or password (the server leaves them out).
const REASON_WORDS = {
  refused: ['Camera unreachable', 'nothing answers at {addr} — camera off, cable, or wrong port'],
  timeout: ['Camera not answering', 'no answer from {addr} in time — camera hung or network overloaded'],
  dns: ['Camera address unknown', 'the name in {addr} does not resolve — check the camera URL or DNS'],
  unreachable: ['Camera network unreachable', 'no route to {addr} — check the network and cabling'],
  unauthorized: ['Wrong camera password', '{addr} refused the user or password in the camera URL'],
  not_found: ['Wrong stream path', '{addr} has no stream at the path in the camera URL'],
  codec: ['Camera sends an unsupported format', 'set the camera to H.264 (or H.265); details below'],
  no_video: ['Camera sends no picture', 'the connection to {addr} is up, but no video comes — restart the camera'],
  ended: ['Camera closed the stream', '{addr} ended the connection — camera rebooting, or too many viewers on it'],
  error: ['Camera offline', 'details below'],
};

/**
 * problemWords says what is wrong with a stream in plain words: a title and
 * a hint naming what to check. Empty strings while it streams.
 */
export function problemWords(s) {
  const health = healthOf(s);
  if (health === 'disabled') return { title: 'Camera disabled', hint: 'disabled in the configuration' };
  if (health === 'frozen' && !s.reason) return { title: 'Camera sends no picture', hint: '' };
  if (health !== 'offline' && health !== 'frozen') return { title: '', hint: '' };
  const words = REASON_WORDS[s.reason] || REASON_WORDS.error;
  const addr = s.address || 'the camera';
  return { title: words[0], hint: words[1].replace('{addr}', addr) };
}

/** stateWords names a server state in an operator's words. */
export function stateWords(state) {
  return {
    streaming: 'streaming',
    stale: 'sends no picture',
    retrying: 'offline, retrying',
    unsupported: 'sends an unsupported format',
    connecting: 'connecting',
    idle: 'not in use (on demand)',
    disabled: 'disabled',
  }[state] || state || 'unknown';
}

/**
 * whenWords says since when a stream is down and when it tries again:
 * "offline since 11:59 (12 min) · next try in 14 s".
 */
export function whenWords(s) {
  const parts = [];
  const down = Date.parse(s?.down_since);
  if (Number.isFinite(down)) {
    const clock = new Date(down - clockSkewMs).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
    parts.push(`offline since ${clock} (${formatAge(serverNow() - down)})`);
  }
  const next = Date.parse(s?.next_retry);
  if (Number.isFinite(next)) {
    const ms = next - serverNow();
    parts.push(ms > 500 ? `next try in ${formatAge(ms + 999)}` : 'trying again now');
  } else if (s?.state === 'connecting') {
    parts.push('trying again now');
  }
  return parts.join(' · ');
}

/**
 * formatAge says how long, readable from across a room: "7 s",
 * "12 min", "1 h 12 min".
 */
export function formatAge(ms) {
  const secs = Math.max(0, Math.floor(ms / 1000));
  if (secs < 60) return `${secs} s`;
  const mins = Math.floor(secs / 60);
  if (mins < 60) return `${mins} min`;
  return `${Math.floor(mins / 60)} h ${mins % 60} min`;
}

/**
 * retryNow asks the server to retry a camera at once. It resolves to '' or
 * to what went wrong, in words.
 */
export async function retryNow(name) {
  try {
    const res = await fetch(`/api/cameras/${encodeURIComponent(name)}/retry`, {
      method: 'POST', cache: 'no-store', headers: { 'X-Requested-With': 'edgecam' },
    });
    // 409: the camera is already trying or streams; the list will say.
    if (res.ok || res.status === 409) return '';
    return `retry failed (HTTP ${res.status})`;
  } catch (err) {
    return `retry failed: the server cannot be reached (${err?.message || err})`;
  }
}

// The header's counts, in this order; each is a filter of the grid.
const COUNTED = [
  ['streaming', 'streaming'],
  ['offline', 'offline'],
  ['frozen', 'frozen'],
  ['starting', 'starting'],
  ['idle', 'not in use'],
  ['disabled', 'disabled'],
];

/**
 * renderCount writes "6 cameras · 4 streaming · 1 offline · 1 frozen" into
 * el from the server's health of each camera (healths), each part a button
 * that shows only those tiles in grid (data-filter); the first shows all.
 */
export function renderCount(el, grid, healths) {
  const n = healths.length;
  const counts = new Map();
  for (const h of healths) counts.set(h, (counts.get(h) || 0) + 1);
  // A filter whose cameras are all gone shows everything again.
  if (grid.dataset.filter && !counts.has(grid.dataset.filter)) delete grid.dataset.filter;
  const parts = [[n === 1 ? '1 camera' : `${n} cameras`, '']];
  for (const [key, words] of COUNTED) {
    if (counts.has(key)) parts.push([`${counts.get(key)} ${words}`, key]);
  }
  const text = parts.map((p) => p[0]).join(' · ');
  const active = grid.dataset.filter || '';
  if (el.dataset.text === text && el.dataset.active === active) return;
  el.dataset.text = text;
  el.dataset.active = active;
  el.replaceChildren();
  parts.forEach(([words, key], i) => {
    if (i > 0) el.append(' · ');
    const b = document.createElement('button');
    b.type = 'button';
    b.className = 'count-filter';
    b.textContent = words;
    b.dataset.filter = key;
    b.setAttribute('aria-pressed', String(active === key));
    b.title = key ? `Show only the ${words} cameras` : 'Show every camera';
    b.addEventListener('click', () => {
      if (key && grid.dataset.filter !== key) grid.dataset.filter = key;
      else delete grid.dataset.filter;
      renderCount(el, grid, healths);
    });
    el.append(b);
  });
}

const CHOICE_HELP = {
  auto: 'Auto: smooth full-rate video; a camera that cannot play it here switches to Compatible by itself.',
  webrtc: 'Smooth only: full-rate video (WebRTC); a tile stays blank where the network or browser blocks it.',
  ws: 'Compatible: 5 pictures a second in the grid (JPEG), through any network and browser.',
  mjpeg: 'Basic: for old browsers (Motion JPEG); at most 4 cameras at once.',
};

/**
 * setChoiceHelp writes under the header's choices what they do, visible
 * also on touch screens, which never show a title.
 */
export function setChoiceHelp(el, transport, grid) {
  let text = CHOICE_HELP[transport] || '';
  if (grid === 'snapshots') text += ' Grid: a still picture of each camera every 2 s; open a camera for live video.';
  if (el && el.textContent !== text) el.textContent = text;
}
