// The status page: API health, whether the stored token is accepted, the latest backfill.
const TOKEN_KEY = 'flowmeter.token';

function put(id, text) {
  const el = document.getElementById(id);
  if (el) el.textContent = text;
}

async function check() {
  try {
    const r = await fetch('/healthz', { cache: 'no-store' });
    put('health', r.ok ? 'ok' : `HTTP ${r.status}`);
  } catch (e) {
    put('health', `unreachable (${e.message})`);
  }
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (!token) {
    put('token', 'none in this tab: open the dashboard with its #token=… link');
    put('backfill', 'needs a token');
    return;
  }
  const headers = { Authorization: `Bearer ${token}` };
  const teams = await fetch('/v1/teams', { headers });
  put('token', teams.ok ? 'accepted' : `refused (HTTP ${teams.status})`);
  if (!teams.ok) {
    put('backfill', 'needs a valid token');
    return;
  }
  const backfill = await fetch('/v1/backfill', { headers });
  if (backfill.ok) {
    const b = await backfill.json();
    put('backfill', `${b.id ?? ''} ${b.state ?? b.status ?? ''}`.trim() || 'none');
  } else {
    const body = await backfill.json().catch(() => ({}));
    put('backfill', body?.error?.message ?? `HTTP ${backfill.status}`);
  }
}

check();
