// edgecam login: says why the form is shown, posts it to /api/login,
// which sets the login cookie, then returns to the page the user came
// from.

const form = document.getElementById('login');
const error = document.getElementById('login-error');
const reason = document.getElementById('login-reason');

// What the server's /api/session reason (or the page's own logout) means
// for the person at the screen. Only these texts are shown, never text
// from the URL.
const reasons = {
  logged_out: 'You logged out.',
  not_logged_in: 'You are not logged in on this browser.',
  expired: 'Your login expired: it was not used for longer than the server allows.',
  password_changed: 'You were logged out because your password was changed. Log in with the new one.',
  user_removed: 'You were logged out because your user was removed from the server\'s configuration.',
  key_changed: 'The server ended all logins (its login key was replaced). Log in again.',
};

// Only same-site fragments are followed back, never an arbitrary URL.
function returnTo() {
  const hash = new URLSearchParams(location.search).get('next') || '';
  return hash.startsWith('#/') ? '/' + hash : '/';
}

form.addEventListener('submit', async (ev) => {
  ev.preventDefault();
  error.hidden = true;
  const data = new URLSearchParams(new FormData(form));
  try {
    const res = await fetch('/api/login', {
      method: 'POST',
      body: data,
      headers: { 'X-Requested-With': 'edgecam' },
      cache: 'no-store',
    });
    if (res.ok) {
      location.replace(returnTo());
      return;
    }
    error.textContent = res.status === 429
      ? 'Too many failed attempts. Wait a minute and try again.'
      : 'Wrong user name or password.';
  } catch (err) {
    error.textContent = `The server cannot be reached (${err?.message || err}).`;
  }
  error.hidden = false;
  document.getElementById('password').select();
});

// showReason asks the server why there is no login; a screen that is
// still logged in (sent here while the server restarted) goes straight
// back.
async function showReason() {
  let why = new URLSearchParams(location.search).get('why');
  if (why !== 'logged_out') {
    try {
      const res = await fetch('/api/session', { cache: 'no-store', headers: { 'X-Requested-With': 'edgecam' } });
      const s = res.ok ? await res.json() : null;
      if (s?.logged_in) {
        location.replace(returnTo());
        return;
      }
      why = s?.reason;
    } catch {
      why = null;
    }
  }
  if (!Object.hasOwn(reasons, why)) return;
  reason.textContent = reasons[why];
  reason.hidden = false;
}

showReason();
