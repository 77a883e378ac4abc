/* The login form: posts {user, password} as JSON (the function accepts JSON only), then opens the dashboard. */
/* global document, fetch, window */
'use strict';

document.getElementById('login').addEventListener('submit', async (event) => {
  event.preventDefault();
  const status = document.getElementById('login-status');
  status.textContent = 'Checking…';
  try {
    const res = await fetch('login', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
      body: JSON.stringify({
        user: document.getElementById('user').value,
        password: document.getElementById('password').value,
      }),
    });
    if (res.ok) {
      window.location.assign(document.baseURI);
      return;
    }
    const body = await res.json().catch(() => null);
    status.textContent = body && body.error ? body.error.message : `HTTP ${res.status}`;
  } catch (err) {
    status.textContent = `Could not log in: ${err.message}`;
  }
});
