// edgecam page: polls the camera list, keeps one Tile per camera, routes
// between the grid (#/) and one camera full size (#/camera/{name}), lets the
// user pick the transport every tile plays over and whether the grid plays
// live or shows snapshots, and releases every session while the tab is hidden.

import { GRID_MODES, TRANSPORTS, Tile } from './tile.js';
import { WhepWall, browserDecodesH264, prepareSpare, setServerInstance, timeoutSignal } from './whep.js';
import { healthOf, renderCount, setChoiceHelp, setServerClock } from './status.js';
import { Layout } from './layout.js';
import { initialChoice, remember } from './choices.js';

const POLL_MS = 2000;
const EVENTS_SILENCE_MS = 15000;
const POLL_TIMEOUT_MS = 5000;
const CAMERA_ROUTE = '#/camera/';
const TRANSPORT_KEY = 'edgecam.transport';
const GRID_KEY = 'edgecam.grid';
// A tab hidden this long releases its sessions; a quick switch away and back
// keeps them, so it does not cost a reconnect.
const HIDDEN_GRACE_MS = 3000;
// Each MJPEG <img> holds one of the six HTTP/1.1 connections a browser opens
// to a server; the camera list poll needs one too.
const MJPEG_GRID_MAX = 4;

const $ = (id) => document.getElementById(id);
const ui = {
  grid: $('grid'),
  count: $('count'),
  apiStatus: $('api-status'),
  notice: $('notice'),
  browserWarning: $('browser-warning'),
  singleBar: $('single-bar'),
  singleName: $('single-name'),
  back: $('back'),
  fullscreen: $('fullscreen'),
  prevCamera: $('prev-camera'),
  nextCamera: $('next-camera'),
  transport: $('transport'),
  gridMode: $('grid-mode'),
};

/** @type {Map<string, Tile>} camera name → tile, in API order */
const tiles = new Map();
// The grid's tiles that start together share one peer connection.
const wall = new WhepWall();
let loaded = false; // the camera list arrived at least once
let pageActive = true; // false between pagehide and pageshow
let tabAway = false; // the tab has been hidden (or frozen) past the grace period
let awayTimer = 0;
let serverDown = false; // the last camera list poll failed
let openedFromGrid = false; // the single view was entered by a click, so Back returns
let lastSingle = null; // camera shown full size last, to refocus its tile
let transport = initialChoice('transport', TRANSPORT_KEY, TRANSPORTS); // for every tile
let gridMode = initialChoice('grid', GRID_KEY, GRID_MODES); // what the grid shows
// The grid's size, group and order, and the cameras' titles (layout.js).
const layout = new Layout(ui.grid, () => {
  reconcile(layout.order());
  applyRoute();
});

function chooseTransport(mode) {
  if (!TRANSPORTS.includes(mode) || mode === transport) return;
  transport = mode;
  remember('transport', TRANSPORT_KEY, mode);
  for (const tile of tiles.values()) tile.setTransport(mode);
  updateWarning();
}

function chooseGrid(mode) {
  if (!GRID_MODES.includes(mode) || mode === gridMode) return;
  gridMode = mode;
  remember('grid', GRID_KEY, mode);
  for (const tile of tiles.values()) tile.setGrid(mode);
  updateWarning();
}

function cameraRoute() {
  const hash = location.hash;
  if (!hash.startsWith(CAMERA_ROUTE)) return null;
  try {
    return decodeURIComponent(hash.slice(CAMERA_ROUTE.length));
  } catch {
    return null;
  }
}

function openCamera(name) {
  if (cameraRoute() !== null) return; // already full size
  openedFromGrid = true;
  location.hash = CAMERA_ROUTE + encodeURIComponent(name);
}

function backToGrid() {
  if (cameraRoute() === null) return;
  if (openedFromGrid) {
    history.back();
  } else {
    // Arrived by a link: there is no grid entry behind us to go back to.
    location.hash = '#/';
  }
}

function toggleFullscreen() {
  const name = cameraRoute();
  const tile = name === null ? null : tiles.get(name);
  if (document.fullscreenElement) {
    document.exitFullscreen().catch(() => {});
  } else if (tile && document.fullscreenEnabled) {
    tile.el.requestFullscreen().catch(() => {});
  }
}

// applyRoute makes the page show what the hash says and runs exactly the
// tiles that are on screen.
function applyRoute() {
  const single = cameraRoute();
  document.body.classList.toggle('single', single !== null);
  ui.singleBar.hidden = single === null;
  ui.singleName.textContent = single === null ? '' : layout.title(single);
  ui.prevCamera.hidden = ui.nextCamera.hidden = single === null || layout.neighbour([...tiles.keys()], single, 1) === null;
  ui.fullscreen.hidden = !document.fullscreenEnabled;

  if (single === null) {
    openedFromGrid = false;
    if (document.fullscreenElement) document.exitFullscreen().catch(() => {});
  }
  const running = pageActive && !tabAway;
  for (const tile of tiles.values()) {
    const focused = tile.name === single;
    const shown = single === null ? layout.inView(tile.name) : focused;
    tile.el.classList.toggle('focused', focused);
    tile.el.tabIndex = single === null ? 0 : -1;
    tile.setSingle(focused);
    tile.setVisible(shown, shown && running);
  }
  updateWarning();

  if (single !== null && loaded && !tiles.has(single)) {
    showNotice(`No camera named “${single}”.`);
  } else if (loaded && tiles.size === 0) {
    showNotice('No cameras configured.');
  } else {
    showNotice('');
  }
  document.title = single === null ? 'edgecam' : `${layout.title(single)} · edgecam`;
  layout.fitSoon();

  if (single !== lastSingle) {
    if (single === null && lastSingle !== null) {
      tiles.get(lastSingle)?.el.focus();
    } else if (single !== null) {
      ui.back.focus();
    }
    lastSingle = single;
  }
}

function showNotice(text) {
  ui.notice.textContent = text;
  ui.notice.hidden = text === '';
}

// updateWarning says when the chosen transport cannot work well here.
function updateWarning() {
  setChoiceHelp($('pick-help'), transport, gridMode);
  let text = '';
  const pick = 'choose Auto or Compatible as Video to see video.';
  if (transport === 'webrtc' && typeof RTCPeerConnection !== 'function') {
    text = `This browser has no WebRTC; ${pick}`;
  } else if (transport === 'webrtc' && browserDecodesH264() === false) {
    text = `This browser cannot decode H.264 over WebRTC; ${pick}`;
  } else if (transport === 'mjpeg' && gridMode === 'live' && cameraRoute() === null
      && tiles.size > MJPEG_GRID_MAX) {
    text = `MJPEG takes one of the browser's six connections to this server per camera; `
      + `with ${tiles.size} cameras some stay blank and the camera list stalls. `
      + 'Choose Compatible, or Still pictures for the grid.';
  }
  // Rewriting an alert's text makes screen readers announce it again.
  if (ui.browserWarning.textContent === text) return;
  ui.browserWarning.textContent = text;
  ui.browserWarning.hidden = text === '';
}

// updateCount counts the cameras by what the server says of them, not by
// what the tiles play: tiles hidden by the full-size view are paused, not
// down.
function updateCount() {
  if (!loaded) return;
  renderCount(ui.count, ui.grid, [...tiles.values()].map((t) => healthOf(t.status)));
}

// shownInGrid is how many tiles the grid shows (the group picked).
function shownInGrid() {
  let n = 0;
  for (const name of tiles.keys()) if (layout.inView(name)) n++;
  return n;
}

// reconcile brings the tiles in line with the API's list: new cameras get a
// tile, removed ones lose theirs (ending the session), order follows the API.
function reconcile(cameras) {
  const seen = new Set();
  for (const cam of cameras) {
    if (!cam || typeof cam.name !== 'string' || cam.name === '' || seen.has(cam.name)) continue;
    seen.add(cam.name);
    let tile = tiles.get(cam.name);
    if (tile) {
      tile.update(cam);
    } else {
      tile = new Tile(cam, { onActivate: openCamera, onState: updateCount, gridSize: shownInGrid, wall },
        { transport, grid: gridMode, single: cam.name === cameraRoute() });
      tile.setServerDown(serverDown);
      tiles.set(cam.name, tile);
    }
    // Move only what is out of place: moving a playing <video> is not free.
    const at = ui.grid.children[seen.size - 1];
    if (at !== tile.el) ui.grid.insertBefore(tile.el, at ?? null);
  }
  for (const [name, tile] of tiles) {
    if (!seen.has(name)) {
      tile.destroy();
      tiles.delete(name);
    }
  }
  // Map order drives nothing visible, but keep it equal to the grid's.
  const ordered = [...ui.grid.children].map((el) => tiles.get(el.dataset.camera)).filter(Boolean);
  tiles.clear();
  for (const t of ordered) tiles.set(t.name, t);
}

function setApiStatus(err) {
  const down = Boolean(err);
  if (down !== serverDown) {
    serverDown = down;
    // Tiles say so on a frozen picture; when the server is back, tiles
    // waiting out a backoff retry at once instead of up to 15 s later.
    for (const t of tiles.values()) t.setServerDown(down);
  }
  if (!err) {
    ui.apiStatus.hidden = true;
    ui.apiStatus.textContent = '';
    return;
  }
  const when = new Date().toLocaleTimeString();
  ui.apiStatus.textContent = `Server unreachable (${err}) — retrying. Last try ${when}.`;
  ui.apiStatus.hidden = false;
  if (!loaded) ui.count.textContent = 'no camera list yet';
}

function applyList(body) {
  // The page's start, stage by stage (docs/performance.md).
  if (!loaded) performance.mark('edgecam:cameras');
  setServerInstance(body?.instance);
  setServerClock(body?.time);
  layout.setList(body);
  reconcile(layout.order());
  layout.showTitles(tiles.values());
  loaded = true;
  setApiStatus(null);
  applyRoute();
  updateCount();
}

// pollOnce fetches the camera list once. It is the fallback while the event
// stream is down, and it is what notices a missing login (EventSource cannot
// see HTTP statuses).
async function pollOnce() {
  try {
    const res = await fetch('/api/cameras', {
      cache: 'no-store',
      // X-Requested-With keeps the server from answering 401 with a Basic
      // challenge, which would make the browser show its own password box.
      headers: { Accept: 'application/json', 'X-Requested-With': 'edgecam' },
      signal: timeoutSignal(POLL_TIMEOUT_MS),
    });
    if (res.status === 401) {
      location.assign('/login.html?next=' + encodeURIComponent(location.hash));
      return;
    }
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    applyList(await res.json());
  } catch (err) {
    setApiStatus(err?.name === 'TimeoutError' ? 'no answer' : (err?.message || 'network error'));
  }
}

// firstList asks for the camera list once as soon as the page's scripts
// run: its answer came about 30 ms before the event stream's first list,
// which waits for the stream to connect. Anything but a list is left to
// the event stream and the poll.
async function firstList() {
  try {
    const res = await fetch('/api/cameras', { signal: timeoutSignal(POLL_TIMEOUT_MS) });
    if (!res.ok) return;
    const body = await res.json();
    if (!loaded) applyList(body);
  } catch {
    // The event stream brings the list all the same.
  }
}

// inlineList is the camera list the server put in the page (web.go), or
// null when it did not (the visitor must log in first): the tiles then
// start as the scripts run, without a round trip for the list.
function inlineList() {
  const el = document.getElementById('camera-list');
  if (!el) return null;
  // Read once: a page restored from the back-forward cache has its own
  // list by then, and a newer one.
  el.remove();
  try {
    return JSON.parse(el.textContent);
  } catch {
    return null;
  }
}

// listen follows /api/events: the server pushes the camera list on every
// change (a camera offline, stale, back; viewers) and every 5 s, so the page
// learns of a frozen camera within a quarter second instead of polling.
// When the stream breaks, the page polls once, then listens again.
function listen() {
  if (typeof EventSource === 'undefined') {
    pollOnce().finally(() => setTimeout(listen, POLL_MS));
    return;
  }
  // detections=1: what vision models find, for the tiles' overlays.
  const es = new EventSource('/api/events?detections=1');
  let watchdog = 0;
  const arm = () => {
    clearTimeout(watchdog);
    // The server sends the list at least every 5 s; silence means a dead
    // connection that the browser has not noticed.
    watchdog = setTimeout(() => es.dispatchEvent(new Event('error')), EVENTS_SILENCE_MS);
  };
  es.addEventListener('cameras', (ev) => {
    arm();
    try {
      applyList(JSON.parse(ev.data));
    } catch {
      // A malformed event is skipped; the next one carries the whole list.
    }
  });
  es.addEventListener('detections', (ev) => {
    try {
      const d = JSON.parse(ev.data);
      tiles.get(d.camera)?.overlay.add(d);
    } catch {
      // A malformed event is skipped.
    }
  });
  es.addEventListener('error', () => {
    clearTimeout(watchdog);
    es.close();
    pollOnce().finally(() => setTimeout(listen, POLL_MS));
  });
  arm();
}

function onKeydown(ev) {
  if (ev.altKey || ev.ctrlKey || ev.metaKey || cameraRoute() === null) return;
  if (ev.key === 'Escape' && !document.fullscreenElement) {
    ev.preventDefault();
    backToGrid();
  } else if (ev.key === 'f' || ev.key === 'F') {
    ev.preventDefault();
    toggleFullscreen();
  } else if (STEP_KEYS[ev.key] && !ev.target.closest?.('select, input, textarea')) {
    ev.preventDefault();
    stepCamera(STEP_KEYS[ev.key]);
  }
}

// Keys that show the next or previous camera full size (aria-keyshortcuts
// of #next-camera and #prev-camera).
const STEP_KEYS = { ArrowRight: 1, PageDown: 1, ArrowLeft: -1, PageUp: -1 };

// stepCamera shows the next (1) or previous (-1) camera in the grid's
// order full size, in place of the one shown: Back still returns to the
// grid, and a fullscreen view stays fullscreen on the new camera.
function stepCamera(step) {
  const next = layout.neighbour([...tiles.keys()], cameraRoute(), step);
  if (next === null) return;
  const full = Boolean(document.fullscreenElement);
  history.replaceState(history.state, '', CAMERA_ROUTE + encodeURIComponent(next));
  applyRoute();
  if (full) tiles.get(next)?.el.requestFullscreen().catch(() => {});
}

function onFullscreenChange() {
  // Leaving the fullscreen of a camera stepped to returns to the one it
  // replaced, which is hidden: leave that too.
  if (document.fullscreenElement?.hidden) document.exitFullscreen().catch(() => {});
  ui.fullscreen.textContent = document.fullscreenElement ? 'Exit fullscreen' : 'Fullscreen';
  ui.fullscreen.setAttribute('aria-pressed', String(Boolean(document.fullscreenElement)));
}

// onVisibility releases every session once the tab has been hidden for
// HIDDEN_GRACE_MS and resumes them all when it is visible again.
function onVisibility() {
  if (document.visibilityState === 'hidden') {
    if (tabAway || awayTimer) return;
    awayTimer = setTimeout(() => {
      awayTimer = 0;
      if (document.visibilityState !== 'hidden') return;
      tabAway = true;
      applyRoute();
    }, HIDDEN_GRACE_MS);
    return;
  }
  clearTimeout(awayTimer);
  awayTimer = 0;
  if (tabAway) {
    tabAway = false;
    applyRoute();
  }
}

// onFreeze: a frozen page runs no timers, so its sessions end now, grace or
// not; 'resume' takes the page back through onVisibility.
function onFreeze() {
  clearTimeout(awayTimer);
  awayTimer = 0;
  tabAway = true;
  for (const t of tiles.values()) t.stop();
}

// warmWebRTC starts the browser's WebRTC engine (its threads, its codec
// list) while the camera list is on its way: the page's first offer is made
// then (prepareSpare), not on the way to the first picture.
function warmWebRTC() {
  if (['auto', 'webrtc'].includes(transport)) prepareSpare();
}

function init() {
  performance.mark('edgecam:init');
  ui.back.addEventListener('click', backToGrid);
  ui.fullscreen.addEventListener('click', toggleFullscreen);
  ui.prevCamera.addEventListener('click', () => stepCamera(-1));
  ui.nextCamera.addEventListener('click', () => stepCamera(1));
  document.addEventListener('keydown', onKeydown);
  document.addEventListener('fullscreenchange', onFullscreenChange);
  window.addEventListener('hashchange', applyRoute);
  // End every server-side session when the page goes away; resume if the
  // page comes back from the back-forward cache.
  window.addEventListener('pagehide', () => {
    pageActive = false;
    for (const t of tiles.values()) t.stop();
  });
  window.addEventListener('pageshow', (ev) => {
    if (!ev.persisted) return;
    pageActive = true;
    applyRoute();
  });
  document.addEventListener('visibilitychange', onVisibility);
  document.addEventListener('freeze', onFreeze);
  document.addEventListener('resume', onVisibility);
  ui.transport.value = transport;
  ui.transport.addEventListener('change', () => chooseTransport(ui.transport.value));
  ui.gridMode.value = gridMode;
  ui.gridMode.addEventListener('change', () => chooseGrid(ui.gridMode.value));
  // A page opened in a background tab starts with nothing to release.
  tabAway = document.visibilityState === 'hidden';
  applyRoute();
  const list = inlineList();
  if (list) {
    applyList(list);
  } else {
    firstList();
    warmWebRTC();
  }
  listen();
}

init();
