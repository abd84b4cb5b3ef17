// "/suites/{suite}": a suite's description, trends, tests' stability, schedules and runs.

import {api, isAbort, isNotFound, seg} from './api.js';
import {h, replace} from './dom.js';
import {stabilityStrip, trendChart} from './charts.js';
import {duration, passRate, percent, plural} from './format.js';
import {badge, emptyState, errorBox, ingestedNote, labelChips, loading, runControl, runLink, when} from './ui.js';
import {failureGroups, historyHref} from './history.js';
import {huntControl} from './page_hunts.js';

// Plain-text paragraphs: blank lines separate paragraphs, single newlines are kept.
function paragraphs(text) {
  return String(text || '').split(/\n\s*\n/).map((p) => p.trim()).filter(Boolean)
    .map((p) => h('p', {class: 'prewrap'}, p));
}

function runsTable(runs) {
  if (runs.length === 0) return emptyState('No runs yet.');
  return h('table', {class: 'table runs-table'},
    h('thead', null, h('tr', null,
      h('th', null, 'Run'), h('th', null, 'Status'), h('th', null, 'Trigger'), h('th', null, 'Reference'),
      h('th', {class: 'num'}, 'Pass rate'), h('th', {class: 'num'}, 'Duration'), h('th', null, 'Flaky'),
      h('th', null, 'Created'))),
    h('tbody', null, runs.map((r) => h('tr', null,
      h('td', null, runLink(r.id)),
      h('td', null, badge(r.status)),
      h('td', null, r.schedule ? h('span', {title: 'schedule ' + r.schedule}, r.trigger, ' · ', r.schedule) : r.trigger),
      h('td', {class: 'ellipsis', title: r.reference || ''}, r.reference || h('span', {class: 'muted'}, '—')),
      h('td', {class: 'num'}, percent(passRate(r.totals))),
      h('td', {class: 'num'}, duration(r.duration_ms)),
      h('td', null, r.flaky ? h('span', {class: 'flag flaky'}, 'flaky') : ''),
      h('td', null, when(r.created_at))))));
}

function testsTable(suite, history) {
  if (history && history.tests && history.tests.length) {
    const runs = history.runs || [];
    return h('table', {class: 'table tests-table'},
      h('thead', null, h('tr', null,
        h('th', null, 'Test'),
        h('th', null, `Last ${plural(runs.length, 'run')} `, h('span', {class: 'muted'}, '(oldest → newest)')),
        h('th', {class: 'num'}, 'Flips'), h('th', {class: 'num'}, 'Retried'))),
      h('tbody', null, history.tests.map((t) => {
        const statuses = t.statuses || [];
        const lastIdx = statuses.map((st, i) => (st ? i : -1)).filter((i) => i >= 0).pop();
        const name = lastIdx !== undefined && runs[lastIdx]
          ? h('a', {href: `/runs/${runs[lastIdx].id}/tests/${encodeURIComponent(t.name)}`}, t.name) : t.name;
        const past = h('a', {class: 'small muted', href: historyHref(suite.name, t.name),
                             'data-testid': 'history-link'}, 'history');
        return h('tr', {'data-test': t.name},
          h('td', {class: 'test-name'}, name, ' ', past),
          h('td', null, stabilityStrip(t.name, statuses, runs)),
          h('td', {class: 'num' + (t.flips ? ' warn' : '')}, t.flips ?? '—'),
          h('td', {class: 'num' + (t.retried ? ' warn' : '')}, t.retried ?? '—'));
      })));
  }
  const names = suite.tests || [];
  if (names.length === 0) return emptyState('No tests.');
  return h('div', null,
    history ? null : h('p', {class: 'muted small'}, 'Per-test history is not available from this server.'),
    h('ul', {class: 'plain-list columns'}, names.map((n) => h('li', {'data-test': n}, n))));
}

function schedulesTable(schedules) {
  if (schedules.length === 0) return emptyState('No schedules. ', h('a', {href: '/schedules'}, 'Add one'));
  return h('table', {class: 'table'},
    h('thead', null, h('tr', null, h('th', null, 'Name'), h('th', null, 'Spec'), h('th', null, 'Filter'),
      h('th', null, 'State'), h('th', null, 'Next run'))),
    h('tbody', null, schedules.map((sc) => h('tr', null,
      h('td', null, sc.name, sc.from_code ? h('span', {class: 'flag'}, 'code') : null),
      h('td', null, h('code', null, sc.spec), sc.time_zone ? h('span', {class: 'muted'}, ' ', sc.time_zone) : null),
      h('td', null, sc.filter ? h('code', null, sc.filter) : h('span', {class: 'muted'}, '—')),
      h('td', null, sc.paused ? h('span', {class: 'flag'}, 'paused') : 'active'),
      h('td', null, sc.paused ? h('span', {class: 'muted'}, '—') : when(sc.next_run))))));
}

export async function renderSuite(ctx, name) {
  ctx.setTitle(name);
  replace(ctx.root, loading());
  const opt = (p) => p.catch((err) => { if (isAbort(err)) throw err; return {__error: err}; });
  let suite, history, runsRes, schedRes, failures;
  try {
    [suite, history, runsRes, schedRes, failures] = await Promise.all([
      api(`/suites/${seg(name)}`, {signal: ctx.signal}),
      opt(api(`/suites/${seg(name)}/history?runs=30`, {signal: ctx.signal})),
      opt(api(`/runs?suite=${seg(name)}&limit=50`, {signal: ctx.signal})),
      opt(api('/schedules', {signal: ctx.signal})),
      opt(api(`/suites/${seg(name)}/failures?runs=30`, {signal: ctx.signal})),
    ]);
  } catch (err) {
    if (isAbort(err)) return;
    replace(ctx.root,
      h('nav', {class: 'crumbs'}, h('a', {href: '/'}, 'Suites'), ' / ', name),
      errorBox(err, isNotFound(err) ? 'No such suite' : 'Cannot load the suite'));
    return;
  }
  if (!ctx.alive) return;
  if (history && history.__error) history = null;
  const runs = runsRes.__error ? [] : runsRes.runs || [];
  const schedules = schedRes.__error ? [] : (schedRes.schedules || []).filter((sc) => sc.suite === suite.name);

  // Chart data: the history endpoint's runs (oldest first), else the listing's finished runs.
  const chartRuns = history && history.runs ? history.runs
    : runs.filter((r) => r.finished_at).slice(0, 30).reverse();
  const {button, form} = suite.ingest_only ? {button: ingestedNote(), form: null}
    : runControl(suite.name, ctx.navigate, suite.tests);
  const hunt = suite.ingest_only ? {button: null, form: null} : huntControl(suite.name, ctx.navigate);

  replace(ctx.root,
    h('nav', {class: 'crumbs'}, h('a', {href: '/'}, 'Suites'), ' / ', suite.name),
    h('div', {class: 'page-head'},
      h('h1', null, suite.name, suite.namespace ? h('span', {class: 'ns'}, suite.namespace) : null),
      h('div', {class: 'head-actions'}, button, hunt.button)),
    form,
    hunt.form,
    h('div', {class: 'meta-line'},
      labelChips(suite.labels),
      suite.ingest_only
        ? h('span', {class: 'muted'}, 'runs ingested from reports (go test -json, JUnit XML, TAP)')
        : h('span', {class: 'muted'}, plural((suite.tests || []).length, 'test'), ' · max attempts ', suite.max_attempts,
          suite.timeout_ms ? ' · timeout ' + duration(suite.timeout_ms) : '', ' · concurrency ', suite.concurrency)),
    h('div', {class: 'description'}, paragraphs(suite.description)),
    h('section', {class: 'panel'},
      h('h2', null, 'Trend'),
      chartRuns.length && !chartRuns.some((r) => r.totals) ? h('p', {class: 'muted small'}, 'Pass rates are not available from this server; durations only.') : null,
      trendChart(chartRuns),
      chartRuns.some((r) => r.partial || r.status === 'cancelled')
        ? h('p', {class: 'muted small', 'data-testid': 'trend-note'},
          'Cancelled runs and partial runs (a filter, a retry of some tests) have no pass-rate point.')
        : null),
    failures.__error || !(failures.groups || []).length ? null
      : h('section', {class: 'panel', 'data-testid': 'suite-failures'},
        h('h2', null, 'Most common failures ', h('span', {class: 'muted'}, `(last ${plural(failures.runs, 'run')})`)),
        failureGroups(failures.groups.slice(0, 10), {suite: suite.name})),
    h('div', {class: 'two-col'},
      h('section', {class: 'panel'}, h('h2', null, 'Tests'), testsTable(suite, history)),
      h('section', {class: 'panel'}, h('h2', null, 'Schedules'), schedulesTable(schedules))),
    h('section', {class: 'panel'},
      h('h2', null, 'Runs ', h('span', {class: 'muted'}, runs.length ? `(latest ${runs.length})` : '')),
      runsRes.__error ? errorBox(runsRes.__error, 'Cannot load runs') : runsTable(runs)));
}
