// Hunts (issue 21): a series of runs of a suite that stops at the first failure. The "Hunt"
// form of suite and test pages, "/hunts" (every hunt) and "/hunts/{id}" (one, live).

import {api, isAbort, isNotFound, seg} from './api.js';
import {h, icon, replace} from './dom.js';
import {duration, plural} from './format.js';
import {badge, emptyState, errorBox, labelChips, loading, runLink, when} from './ui.js';

const POLL_MS = 1000;

function pct(x) {
  return (100 * (x || 0)).toFixed(1) + '%';
}

// "12.5% (95% CI 3.5%–36.0%)", or a dash before any run passed or failed.
export function rateText(hunt) {
  const r = hunt.failure_rate;
  if (!r || !r.runs) return '—';
  return `${pct(r.observed)} (95% CI ${pct(r.low)}–${pct(r.high)})`;
}

// The Hunt button and its form: how many runs, stop at the first failure, a time budget,
// a test filter (`filter`: prefilled on a test's page), hold on failure.
export function huntControl(suiteName, navigate, {filter = '', label = 'Hunt'} = {}) {
  const repeat = h('input', {type: 'number', name: 'repeat', min: 1, max: 10000, value: 20,
                             'data-testid': 'hunt-repeat', 'aria-label': 'runs at most'});
  const maxDuration = h('input', {type: 'text', name: 'max_duration', placeholder: 'e.g. 2h (optional)',
                                  'data-testid': 'hunt-max-duration', autocomplete: 'off', 'aria-label': 'time budget'});
  const filterInput = h('input', {type: 'text', name: 'filter', value: filter, 'data-testid': 'hunt-filter',
                                  placeholder: 'regex over test names (optional)', autocomplete: 'off', spellcheck: 'false',
                                  'aria-label': 'test filter (regex)'});
  const untilFailure = h('input', {type: 'checkbox', name: 'until_failure', checked: true, 'data-testid': 'hunt-until-failure'});
  const hold = h('input', {type: 'checkbox', name: 'hold_on_failure', 'data-testid': 'hunt-hold'});
  const submit = h('button', {type: 'submit', class: 'primary', 'data-testid': 'hunt-submit'}, icon('play'), ' Start hunt');
  const errors = h('div', {class: 'form-errors'});
  const form = h('form', {class: 'run-form hunt-form', hidden: true, 'data-testid': 'hunt-form'},
    h('label', null, h('span', null, 'Runs ', h('span', {class: 'muted'}, '(at most)')), repeat),
    h('label', null, h('span', null, 'Time budget ', h('span', {class: 'muted'}, '(no new run after it)')), maxDuration),
    h('label', null, h('span', null, 'Test filter'), filterInput),
    h('div', {class: 'checks'},
      h('label', null, untilFailure, 'Stop at the first failure'),
      h('label', {title: 'Keep the failing test and its services alive before its cleanups, for debugging'}, hold, 'Hold on failure')),
    h('div', {class: 'form-actions'}, submit,
      h('button', {type: 'button', onclick: () => { form.hidden = true; button.setAttribute('aria-expanded', 'false'); }}, 'Cancel')),
    errors);
  const button = h('button', {type: 'button', class: 'run-button', 'data-testid': 'hunt-button', 'aria-expanded': 'false',
                              title: 'Run the suite again and again to provoke a flaky failure',
                              onclick: () => {
                                form.hidden = !form.hidden;
                                button.setAttribute('aria-expanded', String(!form.hidden));
                                if (!form.hidden) repeat.focus();
                              }},
    icon('retry'), ' ', label);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    errors.textContent = '';
    const body = {trigger: 'ui', until_failure: untilFailure.checked};
    if (repeat.value.trim()) body.repeat = Number(repeat.value);
    if (maxDuration.value.trim()) body.max_duration = maxDuration.value.trim();
    if (filterInput.value.trim()) body.filter = filterInput.value.trim();
    if (hold.checked) body.hold_on_failure = true;
    submit.disabled = true;
    try {
      const hunt = await api(`/suites/${seg(suiteName)}/hunts`, {method: 'POST', body});
      navigate('/hunts/' + hunt.id);
    } catch (err) {
      errors.appendChild(errorBox(err));
      submit.disabled = false;
    }
  });
  return {button, form};
}

function asked(hunt) {
  const parts = [];
  if (hunt.repeat) parts.push(plural(hunt.repeat, 'run') + ' at most');
  if (hunt.max_duration_ms) parts.push('for ' + duration(hunt.max_duration_ms));
  if (hunt.until_failure) parts.push('until the first failure');
  if (hunt.hold_on_failure) parts.push('holding a failing test');
  return parts.join(', ');
}

const HUNTS_PAGE = 50;

function huntRow(hu) {
  return h('tr', {'data-testid': 'hunt-row', 'data-hunt': hu.id},
    h('td', null, h('a', {href: '/hunts/' + hu.id}, '#' + hu.id)),
    h('td', null, h('a', {href: '/suites/' + seg(hu.suite)}, hu.suite)),
    h('td', null, badge(hu.status)),
    h('td', {class: 'num'}, hu.runs ? hu.runs.total : '—'),
    h('td', {class: 'num'}, hu.runs ? hu.runs.failed : '—'),
    h('td', null, rateText(hu)),
    h('td', {class: 'small'}, asked(hu), hu.filter ? [' · ', h('code', null, hu.filter)] : null),
    h('td', null, when(hu.created_at)));
}

// Every hunt, newest first, a page at a time ("Load more" for older ones).
export async function renderHunts(ctx) {
  ctx.setTitle('Hunts');
  const tbody = h('tbody');
  const tableEl = h('table', {class: 'table hunts-table', hidden: true},
    h('thead', null, h('tr', null, h('th', null, 'Hunt'), h('th', null, 'Suite'), h('th', null, 'Status'),
      h('th', {class: 'num'}, 'Runs'), h('th', {class: 'num'}, 'Failed'), h('th', null, 'Failure rate'),
      h('th', null, 'Asked'), h('th', null, 'Started'))),
    tbody);
  const status = h('div', null, loading());
  const more = h('button', {type: 'button', 'data-testid': 'hunts-more', hidden: true}, 'Load more');
  replace(ctx.root,
    h('div', {class: 'page-head'}, h('h1', null, 'Hunts')),
    h('p', {class: 'muted'}, 'A hunt runs a suite again and again to provoke a flaky failure. ',
      'Start one with the Hunt button of a suite or a test.'),
    tableEl, status, h('div', {class: 'more'}, more));
  let cursor = null;
  async function page() {
    more.disabled = true;
    try {
      const res = await api(`/hunts?limit=${HUNTS_PAGE}` + (cursor ? '&cursor=' + seg(cursor) : ''), {signal: ctx.signal});
      if (!ctx.alive) return;
      for (const hu of res.hunts || []) tbody.appendChild(huntRow(hu));
      tableEl.hidden = tbody.children.length === 0;
      replace(status, tbody.children.length === 0 ? emptyState('No hunts yet. Start one from a suite or a test page.') : null);
      cursor = res.next_cursor ?? null;
      more.hidden = cursor === null;
    } catch (err) {
      if (isAbort(err)) return;
      replace(status, errorBox(err, 'Cannot load hunts'));
    }
    more.disabled = false;
  }
  more.addEventListener('click', page);
  await page();
}

function runsTable(runs) {
  if (runs.length === 0) return emptyState('No run yet.');
  return h('table', {class: 'table runs-table'},
    h('thead', null, h('tr', null, h('th', null, 'Run'), h('th', null, 'Status'), h('th', {class: 'num'}, 'Failed tests'),
      h('th', {class: 'num'}, 'Duration'), h('th', null, 'Created'))),
    h('tbody', null, runs.map((r) => h('tr', {'data-testid': 'hunt-run', 'data-run': r.id, 'data-status': r.status},
      h('td', null, runLink(r.id)),
      h('td', null, badge(r.status)),
      h('td', {class: 'num'}, r.totals ? r.totals.failed : '—'),
      h('td', {class: 'num'}, duration(r.duration_ms)),
      h('td', null, when(r.created_at))))));
}

export async function renderHunt(ctx, id) {
  ctx.setTitle(`Hunt #${id}`);
  replace(ctx.root, loading());
  const statusBadge = h('span', {class: 'badge big', 'data-testid': 'hunt-status'});
  const actions = h('div', {class: 'head-actions'});
  const stats = h('div', {class: 'hunt-stats', 'data-testid': 'hunt-stats'});
  const meta = h('dl', {class: 'meta-grid'});
  const why = h('p', {'data-testid': 'hunt-why'});
  const runsBox = h('div', null, loading());
  const errors = h('div', {class: 'form-errors'});
  let hunt = null;
  let timer = null;
  ctx.onCleanup(() => clearTimeout(timer));

  function stat(label, value, testid) {
    return h('div', {class: 'stat', 'data-testid': testid}, h('strong', null, value), h('span', {class: 'muted small'}, label));
  }

  async function act(path) {
    errors.textContent = '';
    try {
      hunt = await api(`/hunts/${id}/${path}`, {method: 'POST', signal: ctx.signal});
      paint();
    } catch (err) {
      if (!isAbort(err)) errors.appendChild(errorBox(err));
    }
  }

  function paint() {
    statusBadge.className = 'badge big st-' + hunt.status;
    statusBadge.textContent = hunt.status;
    const runs = hunt.runs || {};
    replace(stats,
      stat('runs', runs.total ?? '—', 'hunt-runs'),
      stat('passed', runs.passed ?? '—', 'hunt-passed'),
      stat('failed', runs.failed ?? '—', 'hunt-failed'),
      runs.unfinished ? stat('in progress', runs.unfinished, 'hunt-unfinished') : null,
      stat('failure rate (95% confidence interval)', rateText(hunt), 'hunt-rate'));
    const item = (label, value) => [h('dt', null, label), h('dd', null, value)];
    const items = [
      item('Suite', h('a', {href: '/suites/' + seg(hunt.suite)}, hunt.suite)),
      item('Asked', asked(hunt) || '—'),
      item('First failing run', hunt.first_failing_run
        ? h('span', {'data-testid': 'hunt-first-failure'}, runLink(hunt.first_failing_run)) : h('span', {class: 'muted'}, 'none yet')),
      item('Started', when(hunt.created_at)),
      item('Ended', when(hunt.finished_at)),
      item('Initiated by', hunt.initiated_by || h('span', {class: 'muted'}, '—')),
    ];
    if (hunt.filter) items.push(item('Filter', h('code', null, hunt.filter)));
    if (hunt.reference) items.push(item('Reference', h('code', null, hunt.reference)));
    if (hunt.schedule) items.push(item('Schedule', h('a', {href: '/schedules'}, hunt.schedule)));
    if (hunt.params && Object.keys(hunt.params).length) items.push(item('Params', labelChips(hunt.params)));
    replace(meta, items);
    why.textContent = hunt.error || '';
    why.hidden = !hunt.error;
    const buttons = [];
    if (hunt.status === 'running') {
      buttons.push(h('button', {type: 'button', 'data-testid': 'hunt-stop', onclick: () => act('stop'),
                                title: 'Start no new run; the run in progress finishes'}, icon('stop'), ' Stop'),
                   h('button', {type: 'button', class: 'danger', 'data-testid': 'hunt-cancel', onclick: () => act('cancel'),
                                title: 'Start no new run and cancel the run in progress'}, 'Cancel'));
    }
    replace(actions, buttons);
  }

  async function load() {
    let runsRes;
    try {
      [hunt, runsRes] = await Promise.all([
        api(`/hunts/${id}`, {signal: ctx.signal}),
        api(`/runs?hunt=${id}&limit=200`, {signal: ctx.signal}),
      ]);
    } catch (err) {
      if (isAbort(err)) return false;
      if (!hunt || isNotFound(err)) {
        replace(ctx.root,
          h('nav', {class: 'crumbs'}, h('a', {href: '/hunts'}, 'Hunts'), ' / ', '#' + id),
          errorBox(err, isNotFound(err) ? 'No such hunt' : 'Cannot load the hunt'));
        return false;
      }
      return true;  // a hiccup: the next poll tries again
    }
    if (!ctx.alive) return false;
    paint();
    replace(runsBox, runsTable(runsRes.runs || []));
    return hunt.status === 'running' || (hunt.runs && hunt.runs.unfinished > 0);
  }

  const first = await load();
  if (!hunt) return;
  replace(ctx.root,
    h('nav', {class: 'crumbs'}, h('a', {href: '/hunts'}, 'Hunts'), ' / ', '#' + id),
    h('div', {class: 'page-head'},
      h('h1', null, `Hunt #${id} `, h('span', {class: 'ns'}, hunt.suite)), statusBadge, actions),
    errors,
    h('section', {class: 'panel'}, stats, why, meta),
    h('section', {class: 'panel'}, h('h2', null, 'Runs ', h('span', {class: 'muted'}, '(newest first)')), runsBox));
  // Live while it runs: every second, until it has ended and its last run finished.
  const poll = async () => {
    if (!ctx.alive) return;
    if (await load()) timer = setTimeout(poll, POLL_MS);
  };
  if (first) timer = setTimeout(poll, POLL_MS);
}
