// edgecam login: posts the form to /api/login, which sets the session
// cookie, then returns to the page the user came from.

const form = document.getElementById('login');
const error = document.getElementById('login-error');

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
      ? 'Too many failed attempts from this address. Wait a minute and try again.'
      : 'Wrong user name or password.';
  } catch (err) {
    error.textContent = `The server cannot be reached (${err?.message || err}).`;
  }
  error.hidden = false;
  document.getElementById('password').select();
});
