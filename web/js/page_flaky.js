// "/flaky": tests ranked by how unstable they were over each suite's last N finished runs.

import {api, isAbort, isNotFound, seg} from './api.js';
import {h, replace} from './dom.js';
import {badge, emptyState, errorBox, loading, testHref} from './ui.js';

const WINDOWS = [10, 20, 50, 100];

export async function renderFlaky(ctx) {
  ctx.setTitle('Flaky tests');
  let runs = Number(ctx.query.get('runs')) || 20;
  if (!WINDOWS.includes(runs)) runs = 20;
  const suite = ctx.query.get('suite') || '';
  const windowSelect = h('select', {'aria-label': 'Runs considered', 'data-testid': 'flaky-runs'},
    WINDOWS.map((n) => h('option', {value: n, selected: n === runs}, `last ${n} runs`)));
  const suiteSelect = h('select', {'aria-label': 'Suite', 'data-testid': 'flaky-suite'},
    h('option', {value: ''}, 'all suites'));
  const body = h('div', null, loading());
  const update = () => {
    const p = new URLSearchParams();
    if (windowSelect.value !== '20') p.set('runs', windowSelect.value);
    if (suiteSelect.value) p.set('suite', suiteSelect.value);
    const qs = p.toString();
    ctx.navigate('/flaky' + (qs ? '?' + qs : ''), {replace: true});
  };
  windowSelect.addEventListener('change', update);
  suiteSelect.addEventListener('change', update);
  replace(ctx.root,
    h('div', {class: 'page-head'}, h('h1', null, 'Flaky tests'),
      h('div', {class: 'toolbar'}, suiteSelect, windowSelect)),
    h('p', {class: 'muted small'},
      'Score = flips (pass ↔ fail between consecutive runs) + runs where the test needed a retry, over each suite\u2019s last finished runs.'),
    body);

  api('/suites', {signal: ctx.signal}).then((res) => {
    for (const s of res.suites || []) suiteSelect.appendChild(h('option', {value: s.name, selected: s.name === suite}, s.name));
  }).catch(() => {});

  let data;
  try {
    data = await api(`/flaky?runs=${runs}${suite ? '&suite=' + seg(suite) : ''}`, {signal: ctx.signal});
  } catch (err) {
    if (isAbort(err)) return;
    replace(body, isNotFound(err)
      ? emptyState('Flaky-test data is not available: ', err.message)
      : errorBox(err, 'Cannot load flaky tests'));
    return;
  }
  if (!ctx.alive) return;
  const tests = data.tests || [];
  if (tests.length === 0) {
    replace(body, emptyState(`No flaky test in the last ${data.runs || runs} runs. `));
    return;
  }
  const max = Math.max(...tests.map((t) => t.score || 0), 1);
  replace(body, h('table', {class: 'table flaky-table'},
    h('thead', null, h('tr', null,
      h('th', null, 'Suite'), h('th', null, 'Test'), h('th', {class: 'num'}, 'Score'), h('th', {class: 'num'}, 'Flips'),
      h('th', {class: 'num'}, 'Retried'), h('th', {class: 'num'}, 'Failed'), h('th', {class: 'num'}, 'Runs'),
      h('th', null, 'Last status'))),
    h('tbody', null, tests.map((t) => h('tr', {'data-testid': 'flaky-row', 'data-test': t.test, 'data-suite': t.suite},
      h('td', null, h('a', {href: '/suites/' + seg(t.suite)}, t.suite)),
      h('td', {class: 'test-name'}, t.last_run !== null && t.last_run !== undefined
        ? h('a', {href: testHref(t.last_run, t.test)}, t.test) : t.test),
      h('td', {class: 'num'}, h('span', {class: 'score'},
        h('span', {class: 'score-bar', style: {width: Math.round((40 * (t.score || 0)) / max) + 'px'}}), String(t.score))),
      h('td', {class: 'num'}, t.flips), h('td', {class: 'num'}, t.retried), h('td', {class: 'num'}, t.failed),
      h('td', {class: 'num'}, t.runs),
      h('td', null, t.last_status ? badge(t.last_status) : '—', ' ',
        t.last_run !== null && t.last_run !== undefined ? h('a', {href: '/runs/' + t.last_run, class: 'run-id'}, '#' + t.last_run) : null))))));
}
