// edgecam choices: what the user picks on a screen (transport, grid,
// layout, group) is remembered by the browser (localStorage), so each
// screen keeps its own, and can be set in the address for a kiosk
// (?layout=3x3), which wins over what is remembered.

// stored is the value remembered under key, or null.
function stored(key) {
  try {
    return localStorage.getItem(key);
  } catch {
    return null; // storage can be disabled
  }
}

/** savedChoice is ?{param}= if given, else the value remembered under key, else null. */
export function savedChoice(param, key) {
  return new URLSearchParams(location.search).get(param) ?? stored(key);
}

/**
 * initialChoice is ?{param}= if valid, else the choice remembered under
 * key if valid, else the first of choices.
 */
export function initialChoice(param, key, choices) {
  const asked = new URLSearchParams(location.search).get(param);
  if (choices.includes(asked)) return asked;
  const saved = stored(key);
  return choices.includes(saved) ? saved : choices[0];
}

/**
 * remember stores the user's choice and drops ?{param}= from the address,
 * which would otherwise override it on reload.
 */
export function remember(param, key, value) {
  try {
    localStorage.setItem(key, value);
  } catch {
    // Not remembered, but still applied.
  }
  const url = new URL(location.href);
  if (url.searchParams.has(param)) {
    url.searchParams.delete(param);
    history.replaceState(history.state, '', url);
  }
}
