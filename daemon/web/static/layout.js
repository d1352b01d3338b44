// edgecam layout: fits the camera grid to the window, in the layout the
// user picks (auto, 2×2, 3×3, 4×4); shows every camera or one configured
// group, in the group's order; puts the cameras' display titles on their
// tiles; and folds the header's controls into a menu on narrow screens.
// The layout and the group are remembered by the browser, so each wall
// screen keeps its own, and can be set in the address for a kiosk
// (?layout=3x3, ?group=line-1). app.js owns the tiles and the routes.

import { initialChoice, remember, savedChoice } from './choices.js';

/** LAYOUTS are the grid layouts: auto fits every camera to the window. */
export const LAYOUTS = ['auto', '2x2', '3x3', '4x4'];
const LAYOUT_KEY = 'edgecam.layout';
const GROUP_KEY = 'edgecam.group';
const ALL = ''; // the group choice that shows every camera
// In auto, a tile narrower than this, or a picture narrower than
// MIN_PICTURE_REM, cannot be read from across a room: rather than shrink
// them further, the grid keeps tiles at least this wide and scrolls.
const MIN_TILE_REM = 16;
const MIN_PICTURE_REM = 11;
// A fixed layout never squeezes a picture below this height.
const MIN_FRAME_REM = 3;
const ASPECT = 16 / 9; // of the pictures: most cameras send 16:9

/**
 * Layout arranges the grid. Call setList with every camera list, order for
 * the cameras in the order the grid shows them, inView to know whether a
 * tile belongs on screen, and fit after tiles were shown or hidden.
 */
export class Layout {
  /**
   * @param {HTMLElement} grid the tiles' container
   * @param {() => void} onChange called when the user picks another group
   */
  constructor(grid, onChange) {
    this.grid = grid;
    this.onChange = onChange;
    this.layout = initialChoice('layout', LAYOUT_KEY, LAYOUTS);
    // The group is checked against the list once it arrives.
    this.group = savedChoice('group', GROUP_KEY) ?? ALL;
    this.cameras = [];
    this.groups = [];
    this.fitFrame = 0; // a fitSoon to come
    this.layoutPick = document.getElementById('layout');
    this.groupPick = document.getElementById('group');
    this.groupLabel = document.getElementById('group-pick');
    this.layoutPick.value = this.layout;
    this.layoutPick.addEventListener('change', () => this.chooseLayout(this.layoutPick.value));
    this.groupPick.addEventListener('change', () => this.chooseGroup(this.groupPick.value));
    this.setupMenu();
    const refit = () => this.fit();
    window.addEventListener('resize', refit);
    // What sits above the grid changes its height: a wrapped header, the
    // server status line, a notice.
    const ro = new ResizeObserver(refit);
    for (const sel of ['.top', '#single-bar', '#notice', '#browser-warning']) {
      const el = document.querySelector(sel);
      if (el) ro.observe(el);
    }
  }

  // setupMenu makes the Menu button (shown on narrow screens only) open
  // and close the header's controls.
  setupMenu() {
    const button = document.getElementById('menu');
    const top = button.closest('.top');
    const set = (open) => {
      top.classList.toggle('menu-open', open);
      button.setAttribute('aria-expanded', String(open));
    };
    button.addEventListener('click', () => set(!top.classList.contains('menu-open')));
    top.addEventListener('keydown', (ev) => {
      if (ev.key === 'Escape' && top.classList.contains('menu-open')) {
        set(false);
        button.focus();
      }
    });
  }

  /** setList takes the camera list's cameras, titles and groups. */
  setList(body) {
    this.cameras = Array.isArray(body?.cameras) ? body.cameras : [];
    this.groups = (Array.isArray(body?.groups) ? body.groups : [])
      .filter((g) => g && typeof g.name === 'string' && Array.isArray(g.cameras));
    this.titles = new Map();
    for (const c of this.cameras) {
      if (typeof c?.title === 'string' && c.title !== '') this.titles.set(c.name, c.title);
    }
    this.renderGroups();
  }

  renderGroups() {
    const want = [['', 'All cameras'], ...this.groups.map((g) => [g.name, g.title || g.name])];
    const have = [...this.groupPick.options].map((o) => [o.value, o.textContent]);
    if (JSON.stringify(want) !== JSON.stringify(have)) {
      this.groupPick.replaceChildren(...want.map(([value, text]) => new Option(text, value)));
    }
    this.groupLabel.hidden = this.groups.length === 0;
    this.groupPick.value = this.chosenGroup()?.name ?? ALL;
  }

  /** chosenGroup is the group shown, or undefined for all cameras. */
  chosenGroup() {
    return this.groups.find((g) => g.name === this.group);
  }

  /**
   * order returns the last list's cameras in the order the grid shows
   * them: the chosen group's in its order, then the others (hidden).
   */
  order() {
    const g = this.chosenGroup();
    if (!g) return this.cameras;
    const byName = new Map(this.cameras.map((c) => [c?.name, c]));
    const first = g.cameras.map((n) => byName.get(n)).filter(Boolean);
    return [...first, ...this.cameras.filter((c) => !g.cameras.includes(c?.name))];
  }

  /** inView says whether the camera belongs to the grid shown. */
  inView(name) {
    const g = this.chosenGroup();
    return !g || g.cameras.includes(name);
  }

  /** title is what the page shows for a camera: its title, else its name. */
  title(name) {
    return this.titles?.get(name) ?? name;
  }

  /**
   * showTitles writes each tile's display title; the full text is in a
   * tooltip for when it is cut short.
   * @param {Iterable<{name: string, el: HTMLElement}>} tiles
   */
  showTitles(tiles) {
    for (const t of tiles) {
      const el = t.el.querySelector('.name');
      const text = this.title(t.name);
      if (!el || el.textContent === text) continue;
      el.textContent = text;
      el.title = text === t.name ? text : `${text} (${t.name})`;
    }
  }

  /**
   * neighbour is the camera step places after (1) or before (-1) name in
   * the grid's order, wrapping around, among the cameras in view; null
   * when there is none.
   * @param {string[]} names every camera, in the grid's order
   */
  neighbour(names, name, step) {
    const shown = names.filter((n) => this.inView(n));
    const ring = shown.includes(name) ? shown : names;
    const at = ring.indexOf(name);
    if (at < 0 || ring.length < 2) return null;
    return ring[(at + step + ring.length) % ring.length];
  }

  chooseLayout(value) {
    if (!LAYOUTS.includes(value) || value === this.layout) return;
    this.layout = value;
    remember('layout', LAYOUT_KEY, value);
    this.fit();
  }

  chooseGroup(value) {
    if (value === this.group) return;
    this.group = value;
    remember('group', GROUP_KEY, value);
    this.onChange();
  }

  /**
   * fitSoon fits the grid before the browser next paints. The tiles'
   * changes of one turn are then laid out once, with the browser's own
   * layout of the frame, and not in the middle of the page's start, where
   * a layout of sixteen new tiles held the first offers back.
   */
  fitSoon() {
    if (this.fitFrame) return;
    this.fitFrame = requestAnimationFrame(() => {
      this.fitFrame = 0;
      this.fit();
    });
  }

  /**
   * fit sizes the grid's columns and rows: in auto, the number of columns
   * that shows every tile in view with the largest pictures that fit the
   * window (rows sized to its height), or tiles at least MIN_TILE_REM wide
   * and a scrolling page when none fits; in N×N, N columns of N rows a
   * window high.
   */
  fit() {
    const g = this.grid;
    if (g.dataset.layout !== this.layout) g.dataset.layout = this.layout;
    if (g.hidden) return; // held while the page starts (app.js); fitted when shown
    const tiles = [...g.children].filter((el) => !el.hidden);
    if (document.body.classList.contains('single') || tiles.length === 0) {
      delete g.dataset.fit;
      return;
    }
    const rem = parseFloat(getComputedStyle(document.documentElement).fontSize) || 16;
    const gap = parseFloat(getComputedStyle(g).rowGap) || 0;
    const width = g.clientWidth;
    const below = parseFloat(getComputedStyle(g.parentElement).paddingBottom) || 0;
    const height = window.innerHeight - (g.getBoundingClientRect().top + window.scrollY) - below;
    // The name and buttons under each picture; the picture gets the rest.
    // The median: an offline tile's longer text must not shrink every
    // picture (its own is clamped, style.css).
    const metas = tiles.map((el) => el.querySelector('.meta')?.offsetHeight ?? 0).sort((x, y) => x - y);
    const meta = metas[Math.floor(metas.length / 2)];
    const pick = this.layout === 'auto'
      ? bestFit(tiles.length, width, height, gap, meta, rem)
      : fixedFit(Number(this.layout[0]), height, gap, meta, rem);
    // Only what changed is written: a write, even of the same value, has
    // the browser lay the grid out again.
    setVar(g, '--cols', String(pick.cols));
    if (pick.rowHeight > 0) {
      setVar(g, '--row-h', `${Math.floor(pick.rowHeight)}px`);
      if (g.dataset.fit !== 'rows') g.dataset.fit = 'rows';
    } else {
      setVar(g, '--row-h', '');
      if (g.dataset.fit !== 'columns') g.dataset.fit = 'columns';
    }
  }
}

// setVar sets a custom property of el's style, or removes it for '', when
// it differs.
function setVar(el, name, value) {
  if (el.style.getPropertyValue(name) === value) return;
  if (value === '') el.style.removeProperty(name);
  else el.style.setProperty(name, value);
}

// bestFit tries every column count for n tiles in a width × height window
// and keeps the one with the widest picture. rowHeight is 0 when no count
// fits readable pictures: then columns of tiles MIN_TILE_REM wide.
function bestFit(n, width, height, gap, meta, rem) {
  let best = { cols: 1, rowHeight: 0, picture: 0 };
  for (let cols = 1; cols <= n; cols++) {
    const rows = Math.ceil(n / cols);
    const w = (width - (cols - 1) * gap) / cols;
    const h = (height - (rows - 1) * gap) / rows;
    if (cols > 1 && w < MIN_TILE_REM * rem) break;
    const picture = Math.min(w, (h - meta) * ASPECT);
    if (picture > best.picture) best = { cols, rowHeight: h, picture };
  }
  if (best.picture >= MIN_PICTURE_REM * rem) return best;
  const cols = Math.max(1, Math.min(n, Math.floor((width + gap) / (MIN_TILE_REM * rem + gap))));
  return { cols, rowHeight: 0 };
}

// fixedFit is n columns of rows a window high divided by n, never so low
// that the picture disappears.
function fixedFit(n, height, gap, meta, rem) {
  const h = (height - (n - 1) * gap) / n;
  return { cols: n, rowHeight: Math.max(h, meta + MIN_FRAME_REM * rem) };
}
