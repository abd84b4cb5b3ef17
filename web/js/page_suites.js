// "/": every suite with its latest run, trends of recent runs and its next scheduled run.

import {api, isAbort, seg} from './api.js';
import {h, replace} from './dom.js';
import {sparkline} from './charts.js';
import {duration, percent, trendRate} from './format.js';
import {badge, emptyState, errorBox, ingestedNote, labelChips, loading, runControl, runLink, when} from './ui.js';

// Whether a suite matches every whitespace-separated token of the filter: "k=v" matches a
// label, anything else a substring of the name or namespace.
export function suiteMatches(suite, query) {
  const tokens = query.toLowerCase().split(/\s+/).filter(Boolean);
  return tokens.every((tok) => {
    const eq = tok.indexOf('=');
    if (eq > 0) {
      const k = tok.slice(0, eq), v = tok.slice(eq + 1);
      return Object.entries(suite.labels || {}).some(([lk, lv]) =>
        lk.toLowerCase() === k && (v === '' || String(lv).toLowerCase() === v));
    }
    return suite.name.toLowerCase().includes(tok) || (suite.namespace || '').toLowerCase().includes(tok);
  });
}

function nextRunOf(suiteName, schedules) {
  let best = null;
  for (const sc of schedules) {
    if (sc.suite !== suiteName || sc.paused || !sc.next_run) continue;
    if (!best || Date.parse(sc.next_run) < Date.parse(best.next_run)) best = sc;
  }
  return best;
}

function trendCells(runs) {
  // Oldest first; only finished runs count.
  const done = runs.filter((r) => r.finished_at).reverse();
  const rates = done.map(trendRate);
  const durs = done.map((r) => (r.duration_ms === undefined ? null : r.duration_ms));
  const lastRate = [...rates].reverse().find((v) => v !== null);
  const lastDur = [...durs].reverse().find((v) => v !== null);
  const none = () => h('span', {class: 'muted', title: 'no finished runs with results yet'}, '—');
  const rateCell = lastRate === undefined ? none() : h('div', {class: 'trend-cell'},
    sparkline(rates, {min: 0, max: 1, label: `pass rate of the last ${rates.length} runs`}),
    h('span', {class: 'trend-value'}, percent(lastRate)));
  const durCell = lastDur === undefined ? none() : h('div', {class: 'trend-cell'},
    sparkline(durs, {kind: 'bars', label: `duration of the last ${durs.length} runs`}),
    h('span', {class: 'trend-value'}, duration(lastDur)));
  return {rateCell, durCell};
}

function latestCell(run) {
  if (!run) return h('span', {class: 'muted'}, 'never run');
  return h('div', {class: 'latest'}, badge(run.status), ' ', runLink(run.id), ' ',
    h('span', {class: 'small'}, when(run.created_at, {relativeOnly: true})));
}

export async function renderSuites(ctx) {
  ctx.setTitle('Suites');
  const filter = h('input', {type: 'search', class: 'filter', 'data-testid': 'suite-filter',
                             placeholder: 'Filter: name, namespace, key=value',
                             'aria-label': 'Filter suites', value: ctx.query.get('q') || ''});
  const count = h('span', {class: 'muted count'});
  const list = h('div', {class: 'suite-list'}, loading());
  replace(ctx.root,
    h('div', {class: 'page-head'}, h('h1', null, 'Suites ', count), filter),
    list);

  let suites, schedules = [];
  try {
    const [s, sc] = await Promise.all([
      api('/suites', {signal: ctx.signal}),
      api('/schedules', {signal: ctx.signal}).catch((err) => { if (isAbort(err)) throw err; return {schedules: []}; }),
    ]);
    suites = s.suites || [];
    schedules = sc.schedules || [];
  } catch (err) {
    if (isAbort(err)) return;
    replace(list, errorBox(err, 'Cannot load suites'));
    return;
  }
  if (!ctx.alive) return;
  // The label in the filter's example is one these suites have.
  const labelled = suites.find((s) => s.labels && Object.keys(s.labels).length);
  if (labelled) {
    const [key, value] = Object.entries(labelled.labels)[0];
    filter.placeholder = `Filter: name, namespace, ${key}=${value}`;
  }

  const header = h('div', {class: 'suite-row suite-header', 'aria-hidden': 'true'},
    h('div', null, 'Suite'), h('div', null, 'Latest run'), h('div', null, 'Pass rate'),
    h('div', null, 'Duration'), h('div', null, 'Next run'), h('div', null));
  const cards = suites.map((suite) => {
    const latest = h('div', {class: 'col-latest'}, latestCell(suite.last_run));
    const rate = h('div', {class: 'col-rate'}, h('span', {class: 'muted'}, '…'));
    const dur = h('div', {class: 'col-dur'}, h('span', {class: 'muted'}, '…'));
    const next = nextRunOf(suite.name, schedules);
    const {button, form} = suite.ingest_only ? {button: ingestedNote(), form: null}
      : runControl(suite.name, ctx.navigate, suite.tests);
    const card = h('article', {class: 'suite-card', 'data-testid': 'suite-card', 'data-suite': suite.name},
      h('div', {class: 'suite-row'},
        h('div', {class: 'col-name'},
          h('a', {class: 'suite-name', href: '/suites/' + seg(suite.name)}, suite.name),
          suite.namespace ? h('span', {class: 'ns'}, suite.namespace) : null,
          labelChips(suite.labels),
          suite.description ? h('div', {class: 'desc muted'}, suite.description.split('\n')[0]) : null),
        latest, rate, dur,
        h('div', {class: 'col-next'}, next
          ? h('span', {title: `${next.name}: ${next.spec}${next.time_zone ? ' (' + next.time_zone + ')' : ''}`},
              when(next.next_run, {relativeOnly: true}))
          : h('span', {class: 'muted'}, '—')),
        h('div', {class: 'col-action'}, button)),
      form);
    return {suite, card, latest, rate, dur};
  });

  const applyFilter = () => {
    const q = filter.value.trim();
    let shown = 0;
    for (const c of cards) {
      const ok = suiteMatches(c.suite, q);
      c.card.hidden = !ok;
      if (ok) shown++;
    }
    count.textContent = q ? `${shown} of ${cards.length}` : String(cards.length);
    empty.hidden = shown !== 0 || cards.length === 0;
    const url = new URL(location.href);
    if (q) url.searchParams.set('q', q); else url.searchParams.delete('q');
    history.replaceState(history.state, '', url.pathname + url.search);
  };
  const empty = emptyState('No suite matches the filter.');
  filter.addEventListener('input', applyFilter);
  replace(list, header, cards.map((c) => c.card), empty,
    cards.length === 0 ? emptyState('This server has no suites.') : null);
  applyFilter();

  // Recent runs of each suite, a few requests at a time.
  let nextIndex = 0;
  const worker = async () => {
    while (ctx.alive && nextIndex < cards.length) {
      const c = cards[nextIndex++];
      try {
        const res = await api(`/runs?suite=${seg(c.suite.name)}&limit=20`, {signal: ctx.signal});
        const runs = res.runs || [];
        const {rateCell, durCell} = trendCells(runs);
        replace(c.rate, rateCell);
        replace(c.dur, durCell);
        if (runs.length) replace(c.latest, latestCell(runs[0]));
      } catch (err) {
        if (isAbort(err)) return;
        replace(c.rate, h('span', {class: 'muted', title: err.message}, '—'));
        replace(c.dur, h('span', {class: 'muted', title: err.message}, '—'));
      }
    }
  };
  await Promise.all([worker(), worker(), worker(), worker()]);
}
