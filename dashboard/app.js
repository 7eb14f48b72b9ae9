// Flowmeter dashboard: one ES module, no build step. Reads the read API (docs/API.md) with the
// bearer token given in the URL fragment (#token=…), kept in sessionStorage for this tab.
// View, scope and period live in the query string: ?view=org|teams|team&team=<name>&weeks=N.
// Every number shown carries data-metric / data-value (the raw API value) so that the browser
// test can compare it with the API's own answer.

const TOKEN_KEY = 'flowmeter.token';
const WEEK_CHOICES = [4, 13, 26, 52];
const VIEWS = ['org', 'teams', 'team'];
const DAY = 86400000;

performance.mark('dashboard-start');

// ---- formatting (as shared/src/digest/format.rs) ---------------------------------------------

/** `x` rounded to one decimal below 10 and whole from 10 on: [value, text]. */
function shortNumber(x) {
  const oneDecimal = Math.round(x * 10) / 10;
  if (oneDecimal < 10) {
    return [oneDecimal, Number.isInteger(oneDecimal) ? oneDecimal.toFixed(0) : oneDecimal.toFixed(1)];
  }
  return [Math.round(x), Math.round(x).toFixed(0)];
}

/** `45 s`, `12 min`, `3.5 h`, `2.1 d`: the digest's durations. */
export function duration(seconds) {
  if (seconds === null || seconds === undefined) return '–';
  if (!Number.isFinite(seconds)) return 'n/a';
  const s = Math.max(0, seconds);
  if (Math.round(s) < 60) return `${Math.round(s)} s`;
  const minutes = Math.round(s / 60);
  if (minutes < 60) return `${minutes} min`;
  const [hours, hoursText] = shortNumber(s / 3600);
  if (hours < 24) return `${hoursText} h`;
  return `${shortNumber(s / 86400)[1]} d`;
}

/** A fraction as the digest writes it: `0%`, `<1%`, `12%`, `>99%`, `100%`. */
export function percent(fraction) {
  if (fraction === null || fraction === undefined) return '–';
  if (!Number.isFinite(fraction)) return 'n/a';
  const p = fraction * 100;
  if (p <= 0) return '0%';
  if (p < 1) return '<1%';
  if (p > 99 && p < 100) return '>99%';
  return `${Math.round(p)}%`;
}

function number(x, digits = 1) {
  if (x === null || x === undefined) return '–';
  return Number.isInteger(x) ? String(x) : x.toFixed(digits);
}

function change(kind, current, previous) {
  if (current === null || current === undefined || previous === null || previous === undefined) {
    return 'no week-over-week change (a week without data)';
  }
  const write = kind === 'duration' ? duration : kind === 'percent' ? percent : (x) => number(x);
  if (kind === 'percent') {
    const points = Math.round((current - previous) * 100);
    if (points === 0) return 'no change on the week before';
    const unit = Math.abs(points) === 1 ? 'pt' : 'pts';
    return `${points > 0 ? '▲' : '▼'} ${Math.abs(points)} ${unit} on the week before (${write(previous)})`;
  }
  if (write(current) === write(previous)) return 'no change on the week before';
  const arrow = current > previous ? '▲' : '▼';
  return `${arrow} ${write(Math.abs(current - previous))} on the week before (${write(previous)})`;
}

// ---- small DOM helper ------------------------------------------------------------------------

function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k === 'text') el.textContent = v;
    else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

/** A number with its raw API value, for people and for the browser test. */
function metric(name, raw, text, extra = {}) {
  return h('span', {
    'data-metric': name,
    'data-value': raw === null || raw === undefined ? 'null' : String(raw),
    ...extra,
  }, text);
}

// ---- token, query, period ---------------------------------------------------------------------

function takeToken() {
  const fragment = new URLSearchParams(location.hash.replace(/^#/, ''));
  const given = fragment.get('token');
  if (given) {
    sessionStorage.setItem(TOKEN_KEY, given);
    history.replaceState(null, '', location.pathname + location.search);
  }
  return sessionStorage.getItem(TOKEN_KEY);
}

function readQuery() {
  const q = new URLSearchParams(location.search);
  const view = VIEWS.includes(q.get('view')) ? q.get('view') : 'org';
  const weeksAsked = Number(q.get('weeks'));
  const weeks = WEEK_CHOICES.includes(weeksAsked) ? weeksAsked : 13;
  return { view, team: q.get('team') || '', weeks };
}

function href(query) {
  const q = new URLSearchParams();
  q.set('view', query.view);
  if (query.view === 'team' && query.team) q.set('team', query.team);
  q.set('weeks', String(query.weeks));
  return `?${q}`;
}

function isoDate(d) {
  const y = d.getFullYear();
  const m = String(d.getMonth() + 1).padStart(2, '0');
  const day = String(d.getDate()).padStart(2, '0');
  return `${y}-${m}-${day}`;
}

/** The last `weeks` full ISO weeks: Monday `weeks` weeks back to last Sunday (local dates). */
export function period(weeks, today = new Date()) {
  const midnight = new Date(today.getFullYear(), today.getMonth(), today.getDate(), 12);
  const sinceMonday = (midnight.getDay() + 6) % 7;
  const lastSunday = new Date(midnight.getTime() - (sinceMonday + 1) * DAY);
  const from = new Date(lastSunday.getTime() - (weeks * 7 - 1) * DAY);
  return { from: isoDate(from), to: isoDate(lastSunday) };
}

// ---- API -----------------------------------------------------------------------------------

class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

let token = null;

async function api(path) {
  const response = await fetch(path, {
    headers: { Authorization: `Bearer ${token}` },
    cache: 'no-store',
  });
  if (!response.ok) {
    let body = null;
    try {
      body = await response.json();
    } catch {
      body = null;
    }
    throw new ApiError(
      response.status,
      body?.error?.code ?? `http_${response.status}`,
      body?.error?.message ?? body?.message ?? `HTTP ${response.status} on ${path}`,
    );
  }
  return response.json();
}

function report(name, scope, p) {
  const q = new URLSearchParams({ scope, from: p.from, to: p.to });
  return api(`/v1/${name}?${q}`);
}

// ---- charts ---------------------------------------------------------------------------------

const charts = [];

function weekStarts(weeks, from) {
  const start = new Date(`${from}T00:00:00Z`).getTime() / 1000;
  return weeks.map((_, i) => start + i * 7 * 86400);
}

function weekLabel(ts) {
  const d = new Date(ts * 1000);
  return `${d.getUTCDate()}/${d.getUTCMonth() + 1}`;
}

function chartWidth(el) {
  return Math.max(240, Math.floor(el.getBoundingClientRect().width || el.parentElement?.clientWidth || 300) - 4);
}

/** A uPlot line or bar chart in `figure`; `values` formats the axis. */
function plot(container, xs, series, { values, bars = false, height = 180, yMin = 0 } = {}) {
  if (typeof uPlot === 'undefined') {
    container.append(h('p', { class: 'muted', text: 'chart library unavailable' }));
    return;
  }
  const opts = {
    width: chartWidth(container),
    height,
    legend: { show: false },
    cursor: { show: true, points: { show: false } },
    scales: { x: { time: false }, y: { range: (u, min, max) => [yMin, max > yMin ? max * 1.1 : yMin + 1] } },
    axes: [
      { values: (u, ticks) => ticks.map(weekLabel), stroke: '#4b5563', grid: { stroke: '#e5e7eb' } },
      { values: (u, ticks) => ticks.map(values), size: 60, stroke: '#4b5563', grid: { stroke: '#e5e7eb' } },
    ],
    series: [
      {},
      ...series.map((s) => ({
        label: s.label,
        stroke: s.color,
        fill: bars ? s.color : undefined,
        width: bars ? 0 : 2,
        points: { show: !bars, size: 5 },
        paths: bars ? uPlot.paths.bars({ size: [0.6, 40] }) : undefined,
        spanGaps: false,
      })),
    ],
  };
  const chart = new uPlot(opts, [xs, ...series.map((s) => s.data)], container);
  charts.push({ chart, container });
}

function sparkline(container, ys, color = '#0b5cad') {
  if (typeof uPlot === 'undefined' || ys.every((y) => y === null)) return;
  const xs = ys.map((_, i) => i);
  const chart = new uPlot({
    width: 70,
    height: 22,
    legend: { show: false },
    cursor: { show: false },
    select: { show: false },
    scales: { x: { time: false }, y: { range: (u, min, max) => [Math.min(0, min ?? 0), (max ?? 1) || 1] } },
    axes: [{ show: false }, { show: false }],
    series: [{}, { stroke: color, width: 1.5, points: { show: false }, spanGaps: true }],
  }, [xs, ys], container);
  charts.push({ chart, container: null });
}

window.addEventListener('resize', () => {
  for (const { chart, container } of charts) {
    if (container) chart.setSize({ width: chartWidth(container), height: chart.height });
  }
});

/** A figure with caption, chart and, as its text alternative, a data table in <details>. */
function chartFigure(title, description, rows, columns) {
  const plotEl = h('div', { class: 'plot', role: 'img', 'aria-label': `${title}: ${description}` });
  const table = h('table', {},
    h('caption', { class: 'visually-hidden', text: title }),
    h('thead', {}, h('tr', {}, h('th', { scope: 'col', text: 'week' }), columns.map((c) => h('th', { scope: 'col', text: c.label })))),
    h('tbody', {}, rows.map((r) => h('tr', {}, h('th', { scope: 'row', text: r.week }), columns.map((c) => h('td', { text: c.format(r[c.key]) }))))),
  );
  const figure = h('figure', { class: 'chart' },
    h('figcaption', { text: title }),
    plotEl,
    h('div', { class: 'data' }, h('details', {}, h('summary', { text: 'Data' }), h('div', { class: 'scroll' }, table))),
  );
  return { figure, plotEl };
}

function lastValue(rows, key, format) {
  for (let i = rows.length - 1; i >= 0; i -= 1) {
    if (rows[i][key] !== null && rows[i][key] !== undefined) return `last ${format(rows[i][key])} in ${rows[i].week}`;
  }
  return 'no data in the period';
}

// ---- page frame -----------------------------------------------------------------------------

const main = () => document.getElementById('main');

function frame(query, teams) {
  const views = document.getElementById('views');
  views.replaceChildren(
    h('a', { href: href({ ...query, view: 'org' }), 'aria-current': query.view === 'org' ? 'page' : null, text: 'Org' }),
    h('a', { href: href({ ...query, view: 'teams' }), 'aria-current': query.view === 'teams' ? 'page' : null, text: 'Teams' }),
  );
  const go = (next) => { location.search = href(next); };
  const weeksSelect = h('select', { id: 'weeks', onchange: (e) => go({ ...query, weeks: Number(e.target.value) }) },
    WEEK_CHOICES.map((w) => h('option', { value: w, selected: w === query.weeks, text: `last ${w} weeks` })));
  const teamSelect = h('select', {
    id: 'team',
    onchange: (e) => go(e.target.value ? { ...query, view: 'team', team: e.target.value } : { ...query, view: 'org', team: '' }),
  },
  h('option', { value: '', text: '—' }),
  (teams ?? []).map((t) => h('option', { value: t.name, selected: query.view === 'team' && t.name === query.team, text: t.name })));
  document.getElementById('controls').replaceChildren(
    h('label', { for: 'team' }, 'Team', teamSelect),
    h('label', { for: 'weeks' }, 'Period', weeksSelect),
  );
}

function showError(err) {
  const m = main();
  m.setAttribute('aria-busy', 'false');
  if (err instanceof ApiError && err.status === 401) {
    sessionStorage.removeItem(TOKEN_KEY);
    askToken(`The API refused the token (${err.message}). Enter a valid one.`);
    return;
  }
  m.replaceChildren(
    h('h1', { text: 'Flowmeter dashboard' }),
    h('div', { class: 'error', role: 'alert', 'data-error': err.code ?? 'error' },
      h('p', {}, h('strong', { text: 'The dashboard could not load. ' }), err.message)),
  );
}

function askToken(message) {
  document.getElementById('views').replaceChildren();
  document.getElementById('controls').replaceChildren();
  const input = h('input', { id: 'token-input', name: 'token', type: 'password', autocomplete: 'off', required: true });
  const form = h('form', {
    class: 'token-form',
    id: 'token-form',
    onsubmit: (e) => {
      e.preventDefault();
      const value = input.value.trim();
      if (!value) return;
      sessionStorage.setItem(TOKEN_KEY, value);
      location.reload();
    },
  },
  h('label', { for: 'token-input', text: 'API token' }),
  input,
  h('button', { type: 'submit', text: 'Open the dashboard' }));
  const m = main();
  m.setAttribute('aria-busy', 'false');
  m.replaceChildren(
    h('h1', { text: 'Flowmeter dashboard' }),
    h('p', { text: message }),
    form,
  );
  document.body.dataset.ready = 'token';
}

function heading(title, p, scope) {
  return [
    h('h1', { id: 'title', text: title }),
    h('p', { class: 'period', 'data-from': p.from, 'data-to': p.to, 'data-scope': scope },
      `${p.from} to ${p.to} (${p.weeks} full ISO weeks)`),
  ];
}

// ---- org view ---------------------------------------------------------------------------------

function tile(title, name, raw, text, level, changeText) {
  return h('section', { class: 'tile', 'aria-label': title },
    h('h3', { text: title }),
    h('p', { class: 'value' }, metric(name, raw, text)),
    level === 'none' ? null : level !== undefined ? h('p', {}, level === null ? h('span', { class: 'level', text: 'no level' }) : h('span', { class: `level level-${level}`, 'data-level': name, text: level })) : h('p', { class: 'muted', text: 'no DORA level' }),
    h('p', { class: 'change', text: changeText }),
  );
}

function doraTiles(dora) {
  const w = dora.weeks;
  const [prev, last] = [w[w.length - 2] ?? {}, w[w.length - 1] ?? {}];
  return h('div', { class: 'tiles' },
    tile('Deployment frequency', 'deploys_per_week', dora.deployment_frequency.per_week,
      `${number(dora.deployment_frequency.per_week)}/week`, dora.deployment_frequency.level,
      change('number', last.deployments, prev.deployments)),
    tile('Lead time p50', 'lead_time_p50', dora.lead_time.p50_seconds, duration(dora.lead_time.p50_seconds),
      dora.lead_time.level, change('duration', last.lead_time_p50_seconds, prev.lead_time_p50_seconds)),
    tile('Change failure rate', 'change_failure_rate', dora.change_failure_rate.rate, percent(dora.change_failure_rate.rate),
      dora.change_failure_rate.level, change('percent', last.change_failure_rate, prev.change_failure_rate)),
    tile('Recovery time p50', 'recovery_time_p50', dora.recovery_time.p50_seconds, duration(dora.recovery_time.p50_seconds),
      dora.recovery_time.level, change('duration', last.recovery_time_p50_seconds, prev.recovery_time_p50_seconds)),
    tile('Rework rate', 'rework_rate', dora.rework_rate.rate, percent(dora.rework_rate.rate), undefined,
      change('percent', last.rework_rate, prev.rework_rate)),
  );
}

function doraCharts(dora, container) {
  const xs = weekStarts(dora.weeks, dora.from);
  const specs = [
    { key: 'deployments', title: 'Deployments per week', format: (v) => number(v, 0), color: '#0b5cad', bars: true },
    { key: 'lead_time_p50_seconds', title: 'Lead time p50', format: duration, color: '#7b3294' },
    { key: 'change_failure_rate', title: 'Change failure rate', format: percent, color: '#a4161a' },
    { key: 'recovery_time_p50_seconds', title: 'Recovery time p50', format: duration, color: '#8a5a00' },
    { key: 'rework_rate', title: 'Rework rate', format: percent, color: '#3d5a80' },
  ];
  const grid = h('div', { class: 'charts' });
  container.append(grid);
  for (const s of specs) {
    const { figure, plotEl } = chartFigure(s.title, lastValue(dora.weeks, s.key, s.format), dora.weeks,
      [{ key: s.key, label: s.title, format: (v) => (v === null ? '–' : s.format(v)) }]);
    grid.append(figure);
    plot(plotEl, xs, [{ label: s.title, color: s.color, data: dora.weeks.map((r) => r[s.key]) }], { values: s.format, bars: s.bars });
  }
}

/** The ISO week (`2026-W48`) of a `YYYY-MM-DD` date. */
export function isoWeek(date) {
  const d = new Date(`${date}T12:00:00Z`);
  const thursday = new Date(d.getTime() + (3 - ((d.getUTCDay() + 6) % 7)) * DAY);
  const jan1 = Date.UTC(thursday.getUTCFullYear(), 0, 1);
  const week = 1 + Math.floor((thursday.getTime() - jan1) / (7 * DAY));
  return `${thursday.getUTCFullYear()}-W${String(week).padStart(2, '0')}`;
}

async function attentionSection(p) {
  const section = h('section', { 'aria-labelledby': 'attention-h' }, h('h2', { id: 'attention-h', text: 'Needs attention' }));
  try {
    // The last full week of the period, as the digest judges it.
    const verdicts = await api(`/v1/attention?week=${isoWeek(p.to)}`);
    section.append(h('p', { class: 'muted', 'data-attention-week': verdicts.week, text: `Verdicts for ${verdicts.week}, each team against its own previous 4 weeks.` }));
    section.append(h('ul', { class: 'attention' }, verdicts.teams.map((t) => h('li', {
      class: t.needs_attention ? 'flagged' : null,
      'data-team': t.team,
      'data-needs-attention': String(t.needs_attention),
    },
    h('span', { class: 'verdict' }, `${t.team}: ${t.needs_attention ? 'needs attention' : t.no_data ? 'no data' : 'fine'}`),
    t.reasons?.length ? h('ul', {}, t.reasons.map((r) => h('li', { text: r }))) : null))));
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) {
      section.append(h('p', { class: 'muted', 'data-attention': 'unavailable', text: 'Verdicts unavailable: this API does not answer GET /v1/attention yet.' }));
    } else {
      throw err;
    }
  }
  return section;
}

async function orgView(query, p) {
  const [dora, attention] = await Promise.all([report('dora', 'org', p), attentionSection(p)]);
  const m = main();
  m.replaceChildren(...heading('Org', p, 'org'));
  m.append(h('section', { 'aria-labelledby': 'dora-h' }, h('h2', { id: 'dora-h', text: 'DORA' }), doraTiles(dora)));
  const trends = h('section', { 'aria-labelledby': 'trends-h' }, h('h2', { id: 'trends-h', text: 'Trends' }));
  m.append(trends);
  doraCharts(dora, trends);
  m.append(attention);
}

// ---- teams view -----------------------------------------------------------------------------

const TEAM_COLUMNS = [
  { key: 'deploys_per_week', label: 'Deployments/week', format: (v) => number(v), series: 'deployments' },
  { key: 'lead_time_p50', label: 'Lead time p50', format: duration, series: 'lead' },
  { key: 'change_failure_rate', label: 'CFR', format: percent, series: 'cfr' },
  { key: 'recovery_time_p50', label: 'Recovery p50', format: duration, series: 'recovery' },
  { key: 'cycle_time_p50', label: 'Cycle time p50', format: duration, series: 'cycle' },
  { key: 'review_latency_p50', label: 'Review latency p50', format: duration, series: 'review' },
];

async function teamRow(team, p) {
  const scope = `team:${team.name}`;
  const [dora, cycle, prs] = await Promise.all([
    report('dora', scope, p), report('cycle-time', scope, p), report('pull-requests', scope, p),
  ]);
  return {
    team: team.name,
    values: {
      deploys_per_week: dora.deployment_frequency.per_week,
      lead_time_p50: dora.lead_time.p50_seconds,
      change_failure_rate: dora.change_failure_rate.rate,
      recovery_time_p50: dora.recovery_time.p50_seconds,
      cycle_time_p50: cycle.total.p50_seconds,
      review_latency_p50: prs.review_latency.p50_seconds,
    },
    series: {
      deployments: dora.weeks.map((w) => w.deployments),
      lead: dora.weeks.map((w) => w.lead_time_p50_seconds),
      cfr: dora.weeks.map((w) => w.change_failure_rate),
      recovery: dora.weeks.map((w) => w.recovery_time_p50_seconds),
      cycle: cycle.weeks.map((w) => w.total_p50_seconds),
      review: cycle.weeks.map((w) => w.pickup_p50_seconds ?? null),
    },
  };
}

function teamsTable(rows, query) {
  let sort = { key: 'team', dir: 'ascending' };
  const table = h('table', { id: 'teams-table' });
  const render = () => {
    const sorted = [...rows].sort((a, b) => {
      const va = sort.key === 'team' ? a.team : a.values[sort.key];
      const vb = sort.key === 'team' ? b.team : b.values[sort.key];
      if (va === vb) return a.team.localeCompare(b.team);
      if (va === null || va === undefined) return 1;
      if (vb === null || vb === undefined) return -1;
      const cmp = typeof va === 'string' ? va.localeCompare(vb) : va - vb;
      return sort.dir === 'ascending' ? cmp : -cmp;
    });
    const header = (key, label) => h('th', { scope: 'col', 'aria-sort': sort.key === key ? sort.dir : 'none', 'data-sort-key': key },
      h('button', {
        type: 'button',
        onclick: () => {
          sort = { key, dir: sort.key === key && sort.dir === 'ascending' ? 'descending' : 'ascending' };
          render();
        },
      }, label));
    const body = h('tbody', {}, sorted.map((r) => h('tr', { 'data-team': r.team },
      h('th', { scope: 'row' }, h('a', { href: href({ ...query, view: 'team', team: r.team }), text: r.team })),
      TEAM_COLUMNS.map((c) => {
        const spark = h('span', { class: 'spark', 'aria-hidden': 'true' });
        const td = h('td', {}, h('span', { class: 'cell' }, spark, metric(c.key, r.values[c.key], c.format(r.values[c.key]))));
        td.sparkData = { el: spark, ys: r.series[c.series] };
        return td;
      }))));
    table.replaceChildren(
      h('caption', { class: 'visually-hidden', text: 'Teams side by side; sparklines show the weekly series' }),
      h('thead', {}, h('tr', {}, header('team', 'Team'), TEAM_COLUMNS.map((c) => header(c.key, c.label)))),
      body,
    );
    requestAnimationFrame(() => {
      for (const td of body.querySelectorAll('td')) if (td.sparkData) sparkline(td.sparkData.el, td.sparkData.ys);
    });
  };
  render();
  return table;
}

async function teamsView(query, p, teams) {
  const rows = await Promise.all(teams.map((t) => teamRow(t, p)));
  const m = main();
  m.replaceChildren(...heading('Teams side by side', p, 'teams'));
  m.append(h('section', { 'aria-labelledby': 'teams-h' },
    h('h2', { id: 'teams-h', text: `${teams.length} teams` }),
    h('p', { class: 'muted', text: 'Click a column header to sort. Small charts: the weekly series of the period.' }),
    h('div', { class: 'scroll', tabindex: '0', role: 'region', 'aria-label': 'Teams table' }, teamsTable(rows, query))));
}

// ---- team view ------------------------------------------------------------------------------

const PHASES = [
  { key: 'coding_p50_seconds', label: 'coding', color: '#4e79a7' },
  { key: 'pickup_p50_seconds', label: 'pickup', color: '#f28e2b' },
  { key: 'review_p50_seconds', label: 'review', color: '#59a14f' },
  { key: 'deploy_p50_seconds', label: 'deploy', color: '#b07aa1' },
];

function phasesChart(cycle, container) {
  const xs = weekStarts(cycle.weeks, cycle.from);
  const { figure, plotEl } = chartFigure('Cycle time phases p50 per week (stacked)',
    'coding, pickup, review and deploy medians of each week stacked', cycle.weeks,
    PHASES.map((ph) => ({ key: ph.key, label: ph.label, format: duration })));
  figure.insertBefore(h('ul', { class: 'legend' }, PHASES.map((ph) => h('li', {}, h('span', { class: `swatch sw-${ph.label}` }), ph.label))), plotEl.nextSibling);
  container.append(figure);
  // Stacked by drawing the cumulative sums from the top phase down.
  const cumulative = PHASES.map((_, i) => cycle.weeks.map((w) => {
    if (w.total_p50_seconds === null && PHASES.every((ph) => w[ph.key] === null)) return null;
    return PHASES.slice(0, i + 1).reduce((sum, ph) => sum + (w[ph.key] ?? 0), 0);
  }));
  const series = PHASES.map((ph, i) => ({ label: ph.label, color: ph.color, data: cumulative[i] })).reverse();
  plot(plotEl, xs, series, { values: duration, bars: true, height: 220 });
}

function simpleChart(title, rows, from, key, format, color, bars = false) {
  const { figure, plotEl } = chartFigure(title, lastValue(rows, key, format), rows,
    [{ key, label: title, format: (v) => (v === null ? '–' : format(v)) }]);
  return { figure, draw: () => plot(plotEl, weekStarts(rows, from), [{ label: title, color, data: rows.map((r) => r[key]) }], { values: format, bars }) };
}

async function teamView(query, p, teams) {
  const team = teams.find((t) => t.name === query.team.toLowerCase());
  if (!team) {
    throw new ApiError(404, 'unknown_scope', `no team "${query.team}" in the config; pick one from the Team list`);
  }
  const scope = `team:${team.name}`;
  const [dora, cycle, prs, incidents, slowest, failed] = await Promise.all([
    report('dora', scope, p), report('cycle-time', scope, p), report('pull-requests', scope, p), report('incidents', scope, p),
    report('pull-requests/slowest', scope, p), report('deployments/failed', scope, p),
  ]);
  const m = main();
  m.replaceChildren(...heading(`Team ${team.name}`, p, scope));

  const ct = h('section', { 'aria-labelledby': 'ct-h' }, h('h2', { id: 'ct-h', text: 'Cycle time' }));
  ct.append(h('div', { class: 'tiles' },
    ...['coding', 'pickup', 'review', 'deploy', 'total'].map((part) => h('section', { class: 'tile', 'aria-label': `${part} p50` },
      h('h3', { text: `${part === 'total' ? 'Cycle time' : part[0].toUpperCase() + part.slice(1)} p50` }),
      h('p', { class: 'value' }, metric(`cycle_${part}_p50`, cycle[part].p50_seconds, duration(cycle[part].p50_seconds))),
      h('p', { class: 'change' }, 'p90 ', metric(`cycle_${part}_p90`, cycle[part].p90_seconds, duration(cycle[part].p90_seconds)))))));
  m.append(ct);
  phasesChart(cycle, ct);

  const pr = h('section', { 'aria-labelledby': 'pr-h' }, h('h2', { id: 'pr-h', text: 'Pull requests' }));
  pr.append(h('div', { class: 'tiles' },
    tile('Review latency p50', 'review_latency_p50', prs.review_latency.p50_seconds, duration(prs.review_latency.p50_seconds), 'none', `p90 ${duration(prs.review_latency.p90_seconds)}`),
    tile('First-time pass rate', 'first_time_pass_rate', prs.first_time_pass_rate, percent(prs.first_time_pass_rate), 'none', `${prs.merged} merged, ${prs.opened} opened`),
    tile('Throughput', 'throughput', prs.throughput, `${prs.throughput} PRs`, 'none', `${number(prs.throughput / p.weeks)} merged per week`),
    tile('PR size p50', 'size_p50', prs.size.p50_lines, prs.size.p50_lines === null ? '–' : `${Math.round(prs.size.p50_lines)} lines`, 'none', `p90 ${prs.size.p90_lines === null ? '–' : Math.round(prs.size.p90_lines)} lines`),
  ));
  const prCharts = h('div', { class: 'charts' });
  pr.append(prCharts);
  m.append(pr);
  const merged = simpleChart('PRs merged per week', prs.weeks, prs.from, 'merged', (v) => number(v, 0), '#0b5cad', true);
  const ftp = simpleChart('First-time pass rate per week', prs.weeks, prs.from, 'first_time_pass_rate', percent, '#0f6b2f');
  prCharts.append(merged.figure, ftp.figure);
  merged.draw();
  ftp.draw();
  pr.append(slowestTable(slowest));

  const d = h('section', { 'aria-labelledby': 'dora-h' }, h('h2', { id: 'dora-h', text: 'DORA' }), doraTiles(dora));
  m.append(d);
  doraCharts(dora, d);
  d.append(failedTable(failed));

  const inc = h('section', { 'aria-labelledby': 'inc-h' }, h('h2', { id: 'inc-h', text: 'Incidents' }));
  inc.append(h('div', { class: 'tiles' },
    tile('Incidents opened', 'incidents_opened', incidents.opened, String(incidents.opened), 'none', `${incidents.resolved} resolved, ${incidents.open.length} open now`),
    tile('MTTR p50', 'mttr_p50', incidents.mttr.p50_seconds, duration(incidents.mttr.p50_seconds), 'none', `p90 ${duration(incidents.mttr.p90_seconds)}`)));
  const services = h('div', { class: 'scroll' }, h('table', { id: 'services-table' },
    h('caption', { class: 'visually-hidden', text: 'Incidents by service' }),
    h('thead', {}, h('tr', {}, h('th', { scope: 'col', text: 'Service' }), h('th', { scope: 'col', text: 'Opened' }), h('th', { scope: 'col', text: 'MTTR p50' }))),
    h('tbody', {}, incidents.by_service.length === 0
      ? h('tr', {}, h('td', { colspan: 3, text: 'No incidents in the period.' }))
      : incidents.by_service.map((s) => h('tr', { 'data-service': s.service },
        h('th', { scope: 'row', text: s.service }),
        h('td', {}, metric('service_opened', s.opened, String(s.opened))),
        h('td', {}, metric('service_mttr_p50', s.mttr_p50_seconds, duration(s.mttr_p50_seconds))))))));
  const mttr = simpleChart('MTTR p50 per week', incidents.weeks, incidents.from, 'mttr_p50_seconds', duration, '#a4161a');
  inc.append(h('div', { class: 'two' }, h('div', {}, h('h3', { text: 'By service' }), services), mttr.figure));
  m.append(inc);
  mttr.draw();
}

/** A link to GitHub, only for the http(s) URLs the API answers (it never answers another). */
function outLink(url, text) {
  return /^https?:\/\//.test(url ?? '') ? h('a', { href: url, rel: 'noreferrer', text }) : text;
}

function slowestTable(list) {
  const parts = ['coding', 'pickup', 'review', 'deploy'];
  return h('div', { id: 'slowest' },
    h('h3', { text: `Slowest PRs (${list.pull_requests.length} of ${list.merged} merged)` }),
    h('div', { class: 'scroll' }, h('table', { id: 'slowest-table' },
      h('caption', { class: 'visually-hidden', text: 'The slowest merged PRs of the period by cycle time' }),
      h('thead', {}, h('tr', {},
        h('th', { scope: 'col', text: 'PR' }), h('th', { scope: 'col', text: 'Author' }),
        ...parts.map((part) => h('th', { scope: 'col', text: part })), h('th', { scope: 'col', text: 'Total' }))),
      h('tbody', {}, list.pull_requests.length === 0
        ? h('tr', {}, h('td', { colspan: 7, text: 'No PR merged in the period.' }))
        : list.pull_requests.map((pr) => h('tr', { 'data-pr': `${pr.repo}#${pr.number}` },
          h('th', { scope: 'row' }, outLink(pr.url, `${pr.repo}#${pr.number}`), h('span', { class: 'pr-title', text: ` ${pr.title}` })),
          h('td', { text: pr.author }),
          ...parts.map((part) => h('td', {}, metric(`pr_${part}`, pr[`${part}_seconds`], duration(pr[`${part}_seconds`])))),
          h('td', {}, metric('pr_total', pr.total_seconds, duration(pr.total_seconds)))))))));
}

/** `status failure`, `incident pd:P1`, `revert of #41`, `rolled back by gh:5`. */
function causeText(cause) {
  switch (cause.kind) {
    case 'status': return `status ${cause.state}`;
    case 'incident': return `incident ${cause.id}`;
    case 'revert': return `revert of ${cause.pull_requests.map((n) => `#${n}`).join(', ')}`;
    case 'rollback': return `rolled back by ${cause.by}`;
    default: return cause.kind;
  }
}

function failedTable(list) {
  return h('div', { id: 'failed' },
    h('h3', { text: `Failed deployments (${list.failed} of ${list.attempts} attempts)` }),
    h('div', { class: 'scroll' }, h('table', { id: 'failed-table' },
      h('caption', { class: 'visually-hidden', text: 'Failed production deployments of the period, with why and how long recovery took' }),
      h('thead', {}, h('tr', {},
        h('th', { scope: 'col', text: 'Deployment' }), h('th', { scope: 'col', text: 'Finished' }),
        h('th', { scope: 'col', text: 'Why it failed' }), h('th', { scope: 'col', text: 'Recovery' }))),
      h('tbody', {}, list.deployments.length === 0
        ? h('tr', {}, h('td', { colspan: 4, text: 'No failed deployment in the period.' }))
        : list.deployments.map((d) => h('tr', { 'data-deployment': `${d.repo} ${d.id}` },
          h('th', { scope: 'row' }, outLink(d.url, `${d.repo} ${d.id}`)),
          h('td', { text: d.finished_at.replace('T', ' ').replace(/\.\d+/, '').replace('Z', ' UTC') }),
          h('td', { 'data-causes': d.causes.map((c) => c.kind).join(' ') }, d.causes.map(causeText).join('; ')),
          h('td', {}, d.recovery_seconds === null
            ? h('span', { 'data-metric': 'recovery', 'data-value': 'null', text: 'not yet' })
            : metric('recovery', d.recovery_seconds, duration(d.recovery_seconds)))))))));
}

// ---- start ----------------------------------------------------------------------------------

async function start() {
  token = takeToken();
  if (!token) {
    askToken('Open the link that `make demo` prints (…/dashboard/#token=…), or enter the API read token.');
    return;
  }
  const query = readQuery();
  const p = { ...period(query.weeks), weeks: query.weeks };
  try {
    const { teams } = await api('/v1/teams');
    frame(query, teams);
    if (query.view === 'org') await orgView(query, p);
    else if (query.view === 'teams') await teamsView(query, p, teams);
    else await teamView(query, p, teams);
    main().setAttribute('aria-busy', 'false');
    document.body.dataset.ready = query.view;
    performance.mark('dashboard-rendered');
    performance.measure('dashboard-first-view', 'dashboard-start', 'dashboard-rendered');
  } catch (err) {
    showError(err);
    if (document.body.dataset.ready !== 'token') document.body.dataset.ready = 'error';
  }
}

if (document.readyState === 'loading') {
  document.addEventListener('DOMContentLoaded', start);
} else {
  start();
}
