// The executive status page: one screen of org and team health, opened by a share link
// (`/dashboard/status#key=fms1.…`, minted by POST /v1/share). The key reads only the org and
// team aggregates (docs/API.md, "Share links"): no PR title, no person's name. It is taken from
// the fragment (which no server sees), kept in sessionStorage for this tab and removed from the
// address bar. Every number carries data-metric / data-value for the browser test.

const KEY = 'flowmeter.share';
const WEEKS = 4;
const DAY = 86400000;

function shortNumber(x) {
  const oneDecimal = Math.round(x * 10) / 10;
  if (oneDecimal < 10) return Number.isInteger(oneDecimal) ? oneDecimal.toFixed(0) : oneDecimal.toFixed(1);
  return Math.round(x).toFixed(0);
}

function duration(seconds) {
  if (seconds === null || seconds === undefined) return '–';
  const s = Math.max(0, seconds);
  if (Math.round(s) < 60) return `${Math.round(s)} s`;
  if (Math.round(s / 60) < 60) return `${Math.round(s / 60)} min`;
  if (s / 3600 < 24) return `${shortNumber(s / 3600)} h`;
  return `${shortNumber(s / 86400)} d`;
}

function percent(fraction) {
  if (fraction === null || fraction === undefined) return '–';
  const p = fraction * 100;
  if (p <= 0) return '0%';
  if (p < 1) return '<1%';
  if (p > 99 && p < 100) return '>99%';
  return `${Math.round(p)}%`;
}

function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k === 'text') el.textContent = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

function metric(name, raw, text, scope) {
  return h('span', {
    'data-metric': name,
    'data-scope': scope,
    'data-value': raw === null || raw === undefined ? 'null' : String(raw),
  }, text);
}

function level(value) {
  return value ? h('span', { class: `level level-${value}`, text: value }) : h('span', { class: 'muted', text: 'no level' });
}

function isoDate(d) {
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;
}

/** The last 4 full ISO weeks: Monday 4 weeks back to last Sunday. */
function period(today = new Date()) {
  const midnight = new Date(today.getFullYear(), today.getMonth(), today.getDate(), 12);
  const lastSunday = new Date(midnight.getTime() - (((midnight.getDay() + 6) % 7) + 1) * DAY);
  const from = new Date(lastSunday.getTime() - (WEEKS * 7 - 1) * DAY);
  return { from: isoDate(from), to: isoDate(lastSunday) };
}

/** The ISO week (`2026-W48`) of a `YYYY-MM-DD` date: the period's last full week. */
function isoWeek(date) {
  const d = new Date(`${date}T12:00:00Z`);
  const thursday = new Date(d.getTime() + (3 - ((d.getUTCDay() + 6) % 7)) * DAY);
  const week = 1 + Math.floor((thursday.getTime() - Date.UTC(thursday.getUTCFullYear(), 0, 1)) / (7 * DAY));
  return `${thursday.getUTCFullYear()}-W${String(week).padStart(2, '0')}`;
}

function takeKey() {
  const fragment = new URLSearchParams(location.hash.replace(/^#/, ''));
  const given = fragment.get('key');
  if (given) {
    sessionStorage.setItem(KEY, given);
    history.replaceState(null, '', location.pathname + location.search);
  }
  return sessionStorage.getItem(KEY);
}

class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

let key = null;

async function api(path) {
  const response = await fetch(path, { headers: { Authorization: `Bearer ${key}` }, cache: 'no-store' });
  if (!response.ok) {
    let body = null;
    try {
      body = await response.json();
    } catch {
      body = null;
    }
    throw new ApiError(response.status, body?.error?.message ?? `HTTP ${response.status} on ${path}`);
  }
  return response.json();
}

const dora = (scope, p) => api(`/v1/dora?${new URLSearchParams({ scope, from: p.from, to: p.to })}`);
const goals = (scope, p) => api(`/v1/goals?${new URLSearchParams({ scope, from: p.from, to: p.to })}`);

function tile(title, name, raw, text, lvl) {
  return h('section', { class: 'tile', 'aria-label': title },
    h('h3', { text: title }),
    h('p', { class: 'value' }, metric(name, raw, text, 'org')),
    h('p', {}, level(lvl)));
}

function onTrack(report) {
  const judged = report.goals.filter((g) => g.on_track !== null && g.on_track !== undefined);
  const met = judged.filter((g) => g.on_track).length;
  return judged.length ? `${met} of ${judged.length}` : '–';
}

function say(message) {
  const main = document.getElementById('main');
  main.replaceChildren(h('h1', { text: 'Engineering health' }), h('p', { class: 'notice', role: 'status', text: message }));
  document.body.dataset.ready = 'message';
}

async function start() {
  key = takeKey();
  if (!key) {
    say('This page opens from a share link. Ask whoever runs Flowmeter for one.');
    return;
  }
  const p = period();
  try {
    const [org, verdicts, orgGoals] = await Promise.all([dora('org', p), api(`/v1/attention?week=${isoWeek(p.to)}`), goals('org', p)]);
    const teams = await Promise.all(verdicts.teams.map(async (t) => {
      const scope = `team:${t.team}`;
      const [d, g] = await Promise.all([dora(scope, p), goals(scope, p)]);
      return { verdict: t, dora: d, goals: g, scope };
    }));
    const main = document.getElementById('main');
    main.replaceChildren(
      h('h1', { text: 'Engineering health' }),
      h('p', { class: 'period', 'data-from': org.from, 'data-to': org.to },
        `${org.from} to ${org.to} (last ${WEEKS} full ISO weeks); verdicts for ${verdicts.week}, each team against its own previous 4 weeks`),
      h('section', { 'aria-labelledby': 'org-h' },
        h('h2', { id: 'org-h', text: 'Org' }),
        h('div', { class: 'tiles' },
          tile('Deployments per week', 'deploys_per_week', org.deployment_frequency.per_week,
            String(org.deployment_frequency.per_week === null ? '–' : Math.round(org.deployment_frequency.per_week * 10) / 10),
            org.deployment_frequency.level),
          tile('Lead time p50', 'lead_time_p50', org.lead_time.p50_seconds, duration(org.lead_time.p50_seconds), org.lead_time.level),
          tile('Change failure rate', 'change_failure_rate', org.change_failure_rate.rate, percent(org.change_failure_rate.rate), org.change_failure_rate.level),
          tile('Recovery time p50', 'recovery_time_p50', org.recovery_time.p50_seconds, duration(org.recovery_time.p50_seconds), org.recovery_time.level),
          h('section', { class: 'tile', 'aria-label': 'Org goals on track' },
            h('h3', { text: 'Org goals on track' }), h('p', { class: 'value', 'data-metric': 'goals_on_track', 'data-scope': 'org', text: onTrack(orgGoals) })))),
      h('section', { 'aria-labelledby': 'teams-h' },
        h('h2', { id: 'teams-h', text: 'Teams' }),
        h('div', { class: 'scroll', tabindex: '0', role: 'region', 'aria-label': 'Teams, side by side' },
          h('table', { class: 'teams' },
            h('thead', {}, h('tr', {}, ['Team', 'Health', 'Deploys/week', 'Lead time p50', 'Change failure', 'Recovery p50', 'Goals on track']
              .map((c) => h('th', { scope: 'col', class: c === 'Health' ? 'health' : null, text: c })))),
            h('tbody', {}, teams.map((t) => h('tr', { 'data-team': t.verdict.team },
              h('th', { scope: 'row', text: t.verdict.team }),
              h('td', { class: t.verdict.needs_attention ? 'health flagged' : 'health', 'data-needs-attention': String(t.verdict.needs_attention) },
                t.verdict.needs_attention ? `Needs attention: ${t.verdict.summary}` : t.verdict.no_data ? 'No data' : 'Steady'),
              h('td', {}, metric('deploys_per_week', t.dora.deployment_frequency.per_week,
                t.dora.deployment_frequency.per_week === null ? '–' : String(Math.round(t.dora.deployment_frequency.per_week * 10) / 10), t.scope), ' ', level(t.dora.deployment_frequency.level)),
              h('td', {}, metric('lead_time_p50', t.dora.lead_time.p50_seconds, duration(t.dora.lead_time.p50_seconds), t.scope)),
              h('td', {}, metric('change_failure_rate', t.dora.change_failure_rate.rate, percent(t.dora.change_failure_rate.rate), t.scope)),
              h('td', {}, metric('recovery_time_p50', t.dora.recovery_time.p50_seconds, duration(t.dora.recovery_time.p50_seconds), t.scope)),
              h('td', { 'data-metric': 'goals_on_track', 'data-scope': t.scope, text: onTrack(t.goals) }))))))));
    document.body.dataset.ready = 'status';
    performance.mark('status-ready');
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) {
      sessionStorage.removeItem(KEY);
      say(`This share link no longer opens the page (${err.message}). Ask for a new one.`);
    } else {
      say(`The numbers could not be read: ${err.message}`);
    }
  }
}

start();
