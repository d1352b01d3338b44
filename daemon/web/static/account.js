// edgecam account: with logins on, the header says who is logged in and
// offers a logout. Kept apart from app.js: it only reads /api/session.

const box = document.getElementById('account');
const who = document.getElementById('account-user');
const logout = document.getElementById('logout');
const headers = { 'X-Requested-With': 'edgecam' };

async function showUser() {
  try {
    const res = await fetch('/api/session', { cache: 'no-store', headers });
    const s = res.ok ? await res.json() : null;
    // With auth none there is nobody to name and nothing to log out of.
    if (s?.auth !== 'users' || !s.user) return;
    who.textContent = `Logged in as ${s.user}`;
    box.hidden = false;
  } catch {
    // The header stays without it; app.js reports an unreachable server.
  }
}

logout.addEventListener('click', async () => {
  logout.disabled = true;
  try {
    const res = await fetch('/api/logout', { method: 'POST', cache: 'no-store', headers });
    if (res.ok) {
      location.assign('/login.html?why=logged_out&next=' + encodeURIComponent(location.hash));
      return;
    }
    who.textContent = `Logout failed (HTTP ${res.status})`;
  } catch (err) {
    who.textContent = `Logout failed: the server cannot be reached (${err?.message || err})`;
  }
  logout.disabled = false;
});

showUser();
