// Issue 19: how a test compares with the previous run (its "change"), a test's history
// across runs, and failures grouped by cause. The server decides each change once when a run
// finishes; these only show it.

import {api, seg} from './api.js';
import {h, replace} from './dom.js';
import {duration} from './format.js';
import {huntControl} from './page_hunts.js';
import {badge, emptyState, errorBox, runLink, testHref, when} from './ui.js';

const CHANGE_TEXT = {
  new_failure: 'new failure',
  still_failing: 'still failing',
  fixed: 'fixed',
  new_test: 'new test',
};

// The href of a test's history page.
export function historyHref(suite, name) {
  return `/suites/${seg(suite)}/tests/${seg(name)}`;
}

// The words of a row's change: "new failure", "failing since #12", "fixed", "new test", or ''.
export function changeText(row) {
  if (!row || !row.change) return '';
  const since = row.failing_since ? `#${row.failing_since.run_id}` : '';
  if (row.change === 'still_failing' && since) return `failing since ${since}`;
  return CHANGE_TEXT[row.change] || row.change;
}

// A flag for a row's change (null when it has none). Its title says the run it has been
// failing since, with its reference and time.
export function changeFlag(row) {
  const text = changeText(row);
  if (!text) return null;
  const s = row.failing_since;
  const title = s ? `failing since run #${s.run_id}${s.reference ? ' (' + s.reference + ')' : ''}, ${s.created_at}` : text;
  return h('span', {class: `flag change change-${row.change}`, 'data-testid': 'change-flag',
                    'data-change': row.change, title}, text);
}

// A table of failures grouped by cause (the API's groups), each with its tests.
export function failureGroups(groups, {runId = null, suite = null} = {}) {
  if (!groups || groups.length === 0) return emptyState('No failures.');
  return h('table', {class: 'table failure-groups', 'data-testid': 'failure-groups'},
    h('thead', null, h('tr', null,
      h('th', {class: 'num'}, 'Failures'),
      runId === null ? h('th', {class: 'num'}, 'Runs') : null,
      h('th', null, 'Cause'),
      h('th', null, 'Tests'),
      runId === null ? h('th', null, 'Last seen') : null)),
    h('tbody', null, groups.map((g) => h('tr', {'data-testid': 'failure-group'},
      h('td', {class: 'num'}, g.failures),
      runId === null ? h('td', {class: 'num'}, g.runs) : null,
      h('td', null, h('code', {class: 'prewrap signature', title: g.message}, g.signature || '(no message)')),
      h('td', null, g.tests.slice(0, 5).map((t, i) => [i ? ', ' : '',
        runId !== null ? h('a', {href: testHref(runId, t)}, t)
          : suite ? h('a', {href: historyHref(suite, t)}, t) : t]),
        g.tests.length + g.tests_left_out > 5
          ? h('span', {class: 'muted'}, ` and ${g.tests.length + g.tests_left_out - 5} more`) : null),
      runId === null ? h('td', null, runLink(g.last_run), ' ', when(g.last_seen)) : null))));
}

// A panel with a test's history (GET /suites/{suite}/tests/{name}), newest run first, with
// "Older runs" while there are more. `current` is the run being looked at, if any.
export function historyPanel(ctx, suite, name, {limit = 20, current = null} = {}) {
  const body = h('tbody');
  const firstFailure = h('p', {class: 'muted small', 'data-testid': 'first-failure'});
  const more = h('button', {type: 'button', hidden: true, 'data-testid': 'history-more'}, 'Older runs');
  const errors = h('div');
  const panel = h('section', {class: 'panel', 'data-testid': 'test-history'},
    h('h2', null, 'History ', h('a', {class: 'h2-sub small', href: historyHref(suite, name)}, 'all runs')),
    firstFailure,
    h('table', {class: 'table history-table'},
      h('thead', null, h('tr', null, h('th', null, 'Run'), h('th', null, 'Status'), h('th', null, 'Change'),
        h('th', null, 'Reference'), h('th', {class: 'num'}, 'Duration'), h('th', null, 'Created'))),
      body),
    more, errors);
  let cursor = null;
  async function load() {
    more.hidden = true;
    let data;
    try {
      data = await api(`/suites/${seg(suite)}/tests/${seg(name)}?limit=${limit}` +
                       (cursor ? `&cursor=${cursor}` : ''), {signal: ctx.signal});
    } catch (err) {
      if (ctx.alive) replace(errors, errorBox(err, 'Cannot load the history'));
      return;
    }
    if (!ctx.alive) return;
    if (cursor === null) {
      const f = data.first_failure;
      replace(firstFailure, f ? ['First failed in run ', runLink(f.run_id),
        f.reference ? [' (', h('code', null, f.reference), ')'] : '', ', ', when(f.created_at), '.']
        : 'Never failed in the runs kept.');
    }
    for (const r of data.runs || []) {
      body.appendChild(h('tr', {'data-testid': 'history-row', 'data-run': r.run_id,
                                class: r.run_id === current ? 'current' : ''},
        h('td', null, h('a', {href: testHref(r.run_id, name)}, `#${r.run_id}`)),
        h('td', null, badge(r.test.status), r.test.flaky ? h('span', {class: 'flag flaky'}, 'flaky') : null),
        h('td', null, changeFlag(r.test)),
        h('td', {class: 'ellipsis', title: r.reference}, r.reference || h('span', {class: 'muted'}, '—')),
        h('td', {class: 'num'}, duration(r.test.duration_ms)),
        h('td', null, when(r.run_created_at))));
    }
    cursor = data.next_cursor;
    more.hidden = !cursor;
  }
  more.addEventListener('click', load);
  load();
  return panel;
}

// "/suites/{suite}/tests/{test}": one test across the runs of its suite.
// The go test -run pattern that selects exactly `name` ("Test/Sub": each level anchored).
export function exactTestPattern(name) {
  return String(name).split('/').map((part) => '^' + part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&') + '$').join('/');
}

export async function renderTestHistory(ctx, suite, name) {
  ctx.setTitle(`${name} · ${suite}`);
  // A hunt of this test alone: its suite's runs, filtered to it.
  const hunt = huntControl(suite, ctx.navigate, {filter: exactTestPattern(name), label: 'Hunt this test'});
  replace(ctx.root,
    h('nav', {class: 'crumbs'}, h('a', {href: '/'}, 'Suites'), ' / ',
      h('a', {href: '/suites/' + seg(suite)}, suite), ' / ', name),
    h('div', {class: 'page-head'}, h('h1', {class: 'test-title'}, h('span', {class: 'break'}, name)),
      h('div', {class: 'head-actions'}, hunt.button)),
    hunt.form,
    historyPanel(ctx, suite, name, {limit: 50}));
}

// "/search?test=…&failure=…": tests of stored runs by name and failure text.
export async function renderSearch(ctx) {
  ctx.setTitle('Search');
  const test = h('input', {type: 'search', name: 'test', 'data-testid': 'search-test',
                           placeholder: 'Part of a test name', value: ctx.query.get('test') || ''});
  const failure = h('input', {type: 'search', name: 'failure', 'data-testid': 'search-failure',
                              placeholder: 'Part of a failure message', value: ctx.query.get('failure') || ''});
  const results = h('div', {'data-testid': 'search-results'});
  const form = h('form', {class: 'search-form', role: 'search'},
    h('label', null, 'Test ', test), h('label', null, 'Failure ', failure),
    h('button', {type: 'submit'}, 'Search'));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const q = new URLSearchParams();
    if (test.value) q.set('test', test.value);
    if (failure.value) q.set('failure', failure.value);
    ctx.navigate('/search?' + q.toString());
  });
  replace(ctx.root, h('div', {class: 'page-head'}, h('h1', null, 'Search')), form, results);
  const q = new URLSearchParams();
  for (const key of ['test', 'failure', 'suite']) {
    if (ctx.query.get(key)) q.set(key, ctx.query.get(key));
  }
  if (!q.has('test') && !q.has('failure')) {
    replace(results, emptyState('Find the runs of a test, or the failures that say something.'));
    return;
  }
  let data;
  try {
    data = await api('/search/tests?' + q.toString(), {signal: ctx.signal});
  } catch (err) {
    if (ctx.alive) replace(results, errorBox(err, 'Cannot search'));
    return;
  }
  if (!ctx.alive) return;
  const rows = data.results || [];
  replace(results, rows.length === 0 ? emptyState('Nothing matches.') :
    h('table', {class: 'table search-table'},
      h('thead', null, h('tr', null, h('th', null, 'Run'), h('th', null, 'Suite'), h('th', null, 'Test'),
        h('th', null, 'Status'), h('th', null, 'Message'), h('th', null, 'Created'))),
      h('tbody', null, rows.map((r) => h('tr', {'data-testid': 'search-row'},
        h('td', null, runLink(r.run_id)),
        h('td', null, h('a', {href: '/suites/' + seg(r.suite)}, r.suite)),
        h('td', null, h('a', {href: testHref(r.run_id, r.test.name)}, r.test.name), ' ',
          h('a', {class: 'small muted', href: historyHref(r.suite, r.test.name)}, 'history')),
        h('td', null, badge(r.test.status), changeFlag(r.test)),
        h('td', {class: 'ellipsis prewrap', title: r.test.message}, r.test.message),
        h('td', null, when(r.run_created_at)))))));
}
