// "/activity": recent runs of every suite, newest first, page by page.

import {api, isAbort, seg} from './api.js';
import {h, replace} from './dom.js';
import {duration, passRate, percent} from './format.js';
import {badge, emptyState, errorBox, loading, runLink, when} from './ui.js';

function row(r) {
  const t = r.totals;
  return h('tr', {'data-testid': 'activity-row', 'data-run': r.id},
    h('td', null, runLink(r.id)),
    h('td', null, h('a', {href: '/suites/' + seg(r.suite)}, r.suite), r.namespace ? h('span', {class: 'ns'}, r.namespace) : null),
    h('td', null, badge(r.status), r.flaky ? h('span', {class: 'flag flaky'}, 'flaky') : null),
    h('td', null, r.trigger, r.schedule ? h('span', {class: 'muted'}, ' · ' + r.schedule) : null),
    h('td', {class: 'ellipsis', title: r.reference || ''}, r.reference || h('span', {class: 'muted'}, '—')),
    h('td', {class: 'num'}, t ? `${t.passed}/${t.total}` : h('span', {class: 'muted'}, '—')),
    h('td', {class: 'num'}, percent(passRate(t))),
    h('td', {class: 'num'}, duration(r.duration_ms)),
    h('td', null, when(r.created_at)));
}

export async function renderActivity(ctx) {
  ctx.setTitle('Activity');
  const tbody = h('tbody');
  const more = h('button', {type: 'button', 'data-testid': 'load-more', hidden: true}, 'Load more');
  const status = h('div', null, loading());
  const tableEl = h('table', {class: 'table activity-table', hidden: true},
    h('thead', null, h('tr', null, h('th', null, 'Run'), h('th', null, 'Suite'), h('th', null, 'Status'),
      h('th', null, 'Trigger'), h('th', null, 'Reference'), h('th', {class: 'num'}, 'Passed'),
      h('th', {class: 'num'}, 'Pass rate'), h('th', {class: 'num'}, 'Duration'), h('th', null, 'Created'))),
    tbody);
  replace(ctx.root, h('div', {class: 'page-head'}, h('h1', null, 'Activity')), tableEl, status,
    h('div', {class: 'more'}, more));

  let cursor = null;
  async function page() {
    more.disabled = true;
    try {
      const res = await api('/runs?limit=50' + (cursor ? '&cursor=' + seg(cursor) : ''), {signal: ctx.signal});
      if (!ctx.alive) return;
      const runs = res.runs || [];
      for (const r of runs) tbody.appendChild(row(r));
      tableEl.hidden = tbody.children.length === 0;
      replace(status, tbody.children.length === 0 ? emptyState('No runs yet. Start one from the ', h('a', {href: '/'}, 'suites'), '.') : null);
      cursor = res.next_cursor ?? null;
      more.hidden = cursor === null;
    } catch (err) {
      if (isAbort(err)) return;
      replace(status, errorBox(err, 'Cannot load runs'));
    }
    more.disabled = false;
  }
  more.addEventListener('click', page);
  await page();
}
