// "/runs/{id}": one run, live. The test list is virtualized so that a 10,000-test run opens
// and scrolls smoothly; live events update the data and re-render only the visible rows, at
// most once per animation frame.

import {api, isAbort, isNotFound, seg} from './api.js';
import {h, icon, replace} from './dom.js';
import {stripAnsi} from './ansi.js';
import {duration, plural, runDuration} from './format.js';
import {badge, errorBox, labelChips, loading, runLink, testHref, when} from './ui.js';
import {VirtualList} from './virtual_list.js';
import {changeFlag, changeText, failureGroups} from './history.js';

const ROW_HEIGHT = 32;
const STATUSES = ['passed', 'failed', 'skipped', 'cancelled', 'running', 'pending'];
const ACTIVE = new Set(['queued', 'running', 'held']);

// The tests of a run, kept in display order: each top-level test followed by its subtests.
class TestTable {
  constructor(rows) {
    this.rows = [];
    this.byName = new Map();
    this.groupOrder = new Map();
    this.seq = 0;
    for (const r of rows) this.insert(r);
    this.sort();
  }

  insert(data) {
    const row = {...data, __v: 0, __seq: this.seq++};
    const slash = row.name.indexOf('/');
    row.__top = slash < 0 ? row.name : row.name.slice(0, slash);
    row.__depth = slash < 0 ? 0 : row.name.split('/').length - 1;
    if (!this.groupOrder.has(row.__top)) this.groupOrder.set(row.__top, this.groupOrder.size);
    this.rows.push(row);
    this.byName.set(row.name, row);
    return row;
  }

  // Applies one test state; returns true if a row was added (the order must be redone).
  apply(data) {
    const row = this.byName.get(data.name);
    if (row) {
      Object.assign(row, data);
      row.__v++;
      return false;
    }
    this.insert(data);
    return true;
  }

  sort() {
    const g = this.groupOrder;
    this.rows.sort((a, b) => (g.get(a.__top) - g.get(b.__top)) || (a.__depth === 0 ? -1 : 0) - (b.__depth === 0 ? -1 : 0) || a.__seq - b.__seq);
  }

  counts() {
    // As the API's counts: failed never includes soft failures (soft_failed); flaky tests
    // are also passed.
    const c = {total: this.rows.length, pending: 0, running: 0, passed: 0, failed: 0,
               soft_failed: 0, skipped: 0, cancelled: 0, flaky: 0};
    for (const r of this.rows) {
      if (r.status === 'failed' && r.soft_failure) c.soft_failed++;
      else if (c[r.status] !== undefined) c[r.status]++;
      if (r.flaky && r.status === 'passed') c.flaky++;
    }
    return c;
  }

  hasRetryableFailure() {
    return this.rows.some((r) => r.status === 'failed' && !r.soft_failure);
  }
}

// Whether a test row matches the text filter: every token is a substring of the name or the
// start of the status ("fail" matches failed tests) or of the change ("new" matches new
// failures and new tests, "fixed" fixed ones).
function rowMatches(row, tokens) {
  const name = row.name.toLowerCase();
  const change = changeText(row);
  return tokens.every((t) => name.includes(t) || row.status.startsWith(t) ||
                             (change && change.startsWith(t)));
}

function createRow() {
  const status = h('span', {class: 'badge'});
  const top = h('span', {class: 'muted'});
  const leaf = h('span', null);
  const flags = h('span', {class: 'flags'});
  const name = h('span', {class: 'c-name'}, top, leaf, flags);
  const attempt = h('span', {class: 'c-attempt num'});
  const dur = h('span', {class: 'c-dur num'});
  const msg = h('span', {class: 'c-msg'});
  const row = h('a', {class: 'test-row', 'data-testid': 'test-row'},
    h('span', {class: 'c-status'}, status), name, attempt, dur, msg);
  row.__cells = {status, top, leaf, flags, name, attempt, dur, msg};
  return row;
}

export async function renderRun(ctx, id) {
  ctx.setTitle(`Run #${id}`);
  replace(ctx.root, loading());
  let run;
  try {
    run = await api(`/runs/${id}`, {signal: ctx.signal});
  } catch (err) {
    if (isAbort(err)) return;
    replace(ctx.root,
      h('nav', {class: 'crumbs'}, h('a', {href: '/'}, 'Suites'), ' / ', `Run #${id}`),
      errorBox(err, isNotFound(err) ? 'No such run' : 'Cannot load the run'));
    return;
  }
  if (!ctx.alive) return;
  ctx.setTitle(`Run #${id} · ${run.suite}`);

  const table = new TestTable(run.tests || []);
  delete run.tests;
  let view = table.rows;
  let tokens = [];
  let statusFilter = ctx.query.get('status') || '';

  // --- header -------------------------------------------------------------------------------
  const statusBadge = h('span', {class: 'badge big', 'data-testid': 'run-status'});
  const actions = h('div', {class: 'run-actions'});
  const actionErrors = h('div', {class: 'action-errors'});
  const holdBanner = h('section', {class: 'hold-banner', hidden: true, 'data-testid': 'hold-banner',
                                   role: 'status', 'aria-live': 'polite'});
  const meta = h('dl', {class: 'meta-grid'});
  const durationEl = h('span');
  const segPassed = h('span', {class: 'seg-passed'});
  const segFailed = h('span', {class: 'seg-failed'});
  const segSoft = h('span', {class: 'seg-soft'});
  const segSkipped = h('span', {class: 'seg-skipped'});
  const segCancelled = h('span', {class: 'seg-cancelled'});
  const progressInner = h('div', {class: 'progress-fill'}, segPassed, segFailed, segSoft, segSkipped, segCancelled);
  const progress = h('div', {class: 'progress', 'data-testid': 'progress-bar', role: 'progressbar',
                             'aria-valuemin': 0}, progressInner);
  const progressText = h('div', {class: 'progress-text'});
  const chips = h('div', {class: 'status-chips', role: 'group', 'aria-label': 'Show tests by status'});
  const live = h('span', {class: 'live muted'});
  const filter = h('input', {type: 'search', class: 'filter', 'data-testid': 'test-filter',
                             placeholder: 'Filter tests by name or status', 'aria-label': 'Filter tests',
                             value: ctx.query.get('q') || ''});
  const listHead = h('div', {class: 'test-row test-head', 'aria-hidden': 'true'},
    h('span', {class: 'c-status'}, 'Status'), h('span', {class: 'c-name'}, 'Test'),
    h('span', {class: 'c-attempt num'}, 'Attempt'), h('span', {class: 'c-dur num'}, 'Duration'),
    h('span', {class: 'c-msg'}, 'Message'));
  const emptyRows = h('p', {class: 'empty muted', hidden: true});

  const list = new VirtualList({
    rowHeight: ROW_HEIGHT,
    overscan: 8,
    createRow,
    attrs: {'data-testid': 'test-list', role: 'list', 'aria-label': 'Tests'},
    updateRow(el, index) {
      const row = view[index];
      if (el.__item === row && el.__v === row.__v) return;
      el.__item = row;
      el.__v = row.__v;
      const c = el.__cells;
      el.setAttribute('href', testHref(id, row.name));
      el.setAttribute('data-test', row.name);
      el.setAttribute('data-status', row.status);
      el.classList.toggle('row-failed', row.status === 'failed');
      c.status.className = 'badge st-' + row.status;
      c.status.textContent = row.status;
      const slash = row.name.lastIndexOf('/');
      c.top.textContent = slash < 0 ? '' : row.name.slice(0, slash + 1);
      c.leaf.textContent = slash < 0 ? row.name : row.name.slice(slash + 1);
      c.name.style.paddingLeft = row.__depth ? row.__depth * 14 + 'px' : '';
      c.name.title = row.name;
      c.flags.textContent = '';
      if (row.flaky) c.flags.appendChild(h('span', {class: 'flag flaky'}, 'flaky'));
      if (row.soft_failure) c.flags.appendChild(h('span', {class: 'flag'}, 'soft'));
      const change = changeFlag(row);
      if (change) c.flags.appendChild(change);
      c.attempt.textContent = row.attempt ? String(row.attempt) : '—';
      c.dur.textContent = row.status === 'pending' || row.status === 'running' ? '' : duration(row.duration_ms);
      const msg = row.message ? stripAnsi(row.message) : '';
      c.msg.textContent = msg;
      c.msg.title = msg;
    },
  });
  ctx.onCleanup(() => list.destroy());

  const deliveriesBody = h('tbody');
  const deliveriesPanel = h('section', {class: 'panel deliveries-panel', hidden: true, 'data-testid': 'deliveries'},
    h('h2', null, 'Notifications'),
    h('table', {class: 'deliveries'},
      h('thead', null, h('tr', null, h('th', null, 'Destination'), h('th', null, 'Event'), h('th', null, 'State'),
                                     h('th', {class: 'num'}, 'Attempts'), h('th', null, 'Last error'))),
      deliveriesBody));
  const failuresBody = h('div');
  const failuresPanel = h('section', {class: 'panel failures-panel', hidden: true, 'data-testid': 'run-failures'},
    h('h2', null, 'Failures by cause'), failuresBody);
  const crumbs = h('nav', {class: 'crumbs'}, h('a', {href: '/'}, 'Suites'), ' / ',
    h('a', {href: '/suites/' + seg(run.suite)}, run.suite), ' / ', `Run #${id}`);
  replace(ctx.root,
    crumbs,
    h('div', {class: 'page-head run-head'},
      h('h1', null, `Run #${id} `, statusBadge, ' ', h('a', {class: 'h1-sub', href: '/suites/' + seg(run.suite)}, run.suite)),
      actions),
    actionErrors,
    holdBanner,
    meta,
    h('div', {class: 'progress-wrap'}, progress, progressText),
    deliveriesPanel,
    failuresPanel,
    h('section', {class: 'panel tests-panel'},
      h('div', {class: 'tests-toolbar'}, filter, chips, live),
      listHead,
      list.el,
      emptyRows));

  // Notifications of the run (Slack, PagerDuty, GitHub, webhooks): each delivery's state,
  // read again while one is pending.
  let deliveriesTimer = null;
  async function loadDeliveries() {
    clearTimeout(deliveriesTimer);
    let res;
    try {
      res = await api(`/runs/${id}/deliveries`, {signal: ctx.signal});
    } catch {
      return;
    }
    if (!ctx.alive) return;
    const list = res.deliveries || [];
    deliveriesPanel.hidden = list.length === 0;
    replace(deliveriesBody, list.map((d) => h('tr', {'data-delivery': d.id, 'data-state': d.state},
      h('td', null, h('strong', null, d.destination), ' ', h('span', {class: 'muted'}, d.target)),
      h('td', null, h('code', null, d.event)),
      h('td', null, h('span', {class: 'badge dl-' + d.state}, d.state)),
      h('td', {class: 'num'}, String(d.attempts)),
      h('td', {class: 'error-text'}, d.last_error || ''))));
    if (list.some((d) => d.state === 'pending') || !run.finished_at) {
      deliveriesTimer = setTimeout(loadDeliveries, 3000);
    }
  }
  ctx.onCleanup(() => clearTimeout(deliveriesTimer));
  loadDeliveries();

  // A finished run's failures grouped by cause: 300 failures of one cause are one line.
  async function loadFailures() {
    if (!run.finished_at) return;
    let res;
    try {
      res = await api(`/runs/${id}/failures`, {signal: ctx.signal});
    } catch {
      return;
    }
    if (!ctx.alive) return;
    const groups = res.groups || [];
    failuresPanel.hidden = groups.length === 0;
    replace(failuresBody, failureGroups(groups, {runId: id}));
  }
  loadFailures();

  function metaItem(label, value) {
    return [h('dt', null, label), h('dd', null, value)];
  }

  function renderHeader() {
    statusBadge.className = 'badge big st-' + run.status;
    statusBadge.textContent = run.status;
    durationEl.textContent = duration(runDuration(run));
    const muted = (t) => h('span', {class: 'muted'}, t);
    const items = [
      metaItem('Trigger', [run.trigger || '—', run.schedule ? [' · ', h('a', {href: '/schedules'}, run.schedule)] : null]),
      metaItem('Initiated by', run.initiated_by || muted('—')),
      metaItem('Reference', run.reference ? h('code', null, run.reference) : muted('—')),
      metaItem('Environment', run.environment || muted('—')),
      metaItem('Created', when(run.created_at)),
      metaItem('Started', when(run.started_at)),
      metaItem('Finished', when(run.finished_at)),
      metaItem('Duration', durationEl),
    ];
    if (run.filter) items.push(metaItem('Filter', h('code', null, run.filter)));
    if (run.retry_of !== null && run.retry_of !== undefined) items.push(metaItem('Retry of', runLink(run.retry_of)));
    if (run.hunt) items.push(metaItem('Hunt', h('a', {href: '/hunts/' + run.hunt, 'data-testid': 'run-hunt'}, 'hunt #' + run.hunt)));
    if (run.replica) items.push(metaItem('Replica', h('code', null, run.replica)));
    if (run.resumed) items.push(metaItem('Resumed', plural(run.resumed, 'time')));
    if (run.flaky) items.push(metaItem('Flaky', h('span', {class: 'flag flaky'}, 'a test passed on retry')));
    if (run.labels && Object.keys(run.labels).length) items.push(metaItem('Labels', labelChips(run.labels)));
    if (run.params && Object.keys(run.params).length) items.push(metaItem('Params', labelChips(run.params)));
    if (run.values && Object.keys(run.values).length) items.push(metaItem('Values', labelChips(run.values)));
    if (run.error) items.push(metaItem('Error', h('span', {class: 'error-text'}, run.error)));
    replace(meta, items);
    renderHold();
    renderActions();
  }

  // Hold on failure: while a test is held, what it keeps open (the worker's pid for gdb -p,
  // its temp dir, its services' endpoints) and a Release button; afterwards, how it ended.
  function renderHold() {
    const hold = run.hold;
    holdBanner.hidden = !hold;
    if (!hold) return;
    const held = run.status === 'held' && !hold.ended;
    holdBanner.classList.toggle('ended', !held);
    const code = (text) => h('code', null, text);
    const rows = [
      metaItem('Process', [code(String(hold.pid)), ' ', h('span', {class: 'muted'}, `gdb -p ${hold.pid}`)]),
      metaItem('Temp dir', hold.temp_dir ? code(hold.temp_dir) : h('span', {class: 'muted'}, 'none')),
    ];
    for (const e of hold.endpoints || []) {
      const owner = e.container_id ? `container ${e.container_id.slice(0, 12)}` : `pid ${e.pid}`;
      rows.push(metaItem(`${e.runnable} · ${e.port}`,
        h('span', {'data-testid': 'hold-endpoint'}, code(e.endpoint), ' ', h('span', {class: 'muted'}, owner))));
    }
    const title = held
      ? [h('strong', null, `${hold.test} is held`), ' before its cleanups, until ', when(hold.release_at)]
      : [h('strong', null, `${hold.test} was held`), ` (${hold.ended.replace('_', ' ')} `, when(hold.released_at), ')'];
    const release = held
      ? h('button', {type: 'button', class: 'primary', 'data-testid': 'release-button', disabled: busy,
                     onclick: releaseHold}, icon('play'), ' Release')
      : null;
    replace(holdBanner, h('div', {class: 'hold-head'}, h('span', null, ...title), release),
      h('dl', {class: 'meta-grid'}, rows));
  }

  let busy = false;
  function renderActions() {
    const buttons = [];
    if (ACTIVE.has(run.status)) {
      buttons.push(h('button', {type: 'button', class: 'danger', 'data-testid': 'cancel-button', disabled: busy,
                                onclick: cancel}, icon('stop'), ' Cancel'));
    }
    if (run.finished_at && run.trigger !== 'ingest' && table.hasRetryableFailure()) {
      buttons.push(h('button', {type: 'button', 'data-testid': 'retry-button', disabled: busy,
                                onclick: retry}, icon('retry'), ' Retry failed'));
    }
    buttons.push(
      h('a', {class: 'button', href: `/api/v1/runs/${id}/report?format=json`, download: `run-${id}.json`,
              'data-testid': 'report-json'}, icon('download'), ' JSON'),
      h('a', {class: 'button', href: `/api/v1/runs/${id}/report?format=junit`, download: `run-${id}.xml`,
              'data-testid': 'report-junit'}, icon('download'), ' JUnit'));
    replace(actions, buttons);
  }

  // POSTs an action on the run (cancel, release) and shows the run it answers.
  async function postAction(action, failed) {
    busy = true;
    renderHeader();
    actionErrors.textContent = '';
    try {
      const res = await api(`/runs/${id}/${action}`, {method: 'POST', signal: ctx.signal});
      if (res && res.id === id) applyRun(res);
    } catch (err) {
      if (isAbort(err)) return;
      actionErrors.appendChild(errorBox(err, failed));
    }
    busy = false;
    renderHeader();
  }

  const cancel = () => postAction('cancel', 'Cancel failed');
  const releaseHold = () => postAction('release', 'Release failed');

  async function retry() {
    busy = true;
    renderActions();
    actionErrors.textContent = '';
    try {
      const res = await api(`/runs/${id}/retry`, {method: 'POST', body: {only_failed: true}, signal: ctx.signal});
      ctx.navigate('/runs/' + res.id);
      return;
    } catch (err) {
      if (isAbort(err)) return;
      actionErrors.appendChild(errorBox(err, 'Retry failed'));
    }
    busy = false;
    renderActions();
  }

  function renderProgress(counts) {
    const done = counts.passed + counts.failed + counts.soft_failed + counts.skipped + counts.cancelled;
    const total = counts.total;
    const pct = total ? (100 * done) / total : (run.finished_at ? 100 : 0);
    progress.setAttribute('data-done', String(done));
    progress.setAttribute('data-total', String(total));
    progress.setAttribute('aria-valuemax', String(total));
    progress.setAttribute('aria-valuenow', String(done));
    progress.classList.toggle('active', !run.finished_at);
    progressInner.style.width = pct.toFixed(2) + '%';
    segPassed.style.flex = String(counts.passed);
    segFailed.style.flex = String(counts.failed);
    segSoft.style.flex = String(counts.soft_failed);
    segSkipped.style.flex = String(counts.skipped);
    segCancelled.style.flex = String(counts.cancelled);
    progress.title = [`${counts.passed} passed`, counts.flaky ? `${counts.flaky} flaky` : '',
      `${counts.failed} failed`, counts.soft_failed ? `${counts.soft_failed} soft failed` : '',
      `${counts.skipped} skipped`, counts.cancelled ? `${counts.cancelled} cancelled` : '']
      .filter(Boolean).join(', ');
    const summary = `${done} / ${total}|${counts.running}`;
    if (progressText.dataset.summary !== summary) {
      progressText.dataset.summary = summary;
      replace(progressText, h('strong', null, `${done} / ${total}`), ' finished',
        counts.running ? ` · ${counts.running} running` : '');
    }
    renderChips(counts);
  }

  // One chip per status (and "all"), made once; a chip is shown while its status has tests.
  const chipEls = new Map();
  for (const st of ['', ...STATUSES]) {
    const n = h('span', {class: 'n'});
    const el = h('button', {type: 'button', class: 'chip-button' + (st ? ' st-text-' + st : ''),
                            'data-status': st || 'all',
                            onclick: () => setStatusFilter(statusFilter === st ? '' : st)},
      st || 'all', ' ', n);
    chipEls.set(st, {el, n});
    chips.appendChild(el);
  }

  function renderChips(counts) {
    for (const [st, {el, n}] of chipEls) {
      // The chip filters by status: "failed" shows soft failures too (flagged "soft").
      const value = !st ? counts.total : st === 'failed' ? counts.failed + counts.soft_failed : counts[st];
      if (n.textContent !== String(value)) n.textContent = String(value);
      el.hidden = st !== '' && value === 0 && statusFilter !== st;
      el.setAttribute('aria-pressed', String(statusFilter === st));
    }
  }

  function syncUrl() {
    const url = new URL(location.href);
    const q = filter.value.trim();
    if (q) url.searchParams.set('q', q); else url.searchParams.delete('q');
    if (statusFilter) url.searchParams.set('status', statusFilter); else url.searchParams.delete('status');
    history.replaceState(history.state, '', url.pathname + url.search);
  }

  function recomputeView() {
    if (tokens.length === 0 && !statusFilter) {
      view = table.rows;
    } else {
      view = table.rows.filter((r) => (!statusFilter || r.status === statusFilter) && rowMatches(r, tokens));
    }
    list.setCount(view.length);
    emptyRows.hidden = view.length !== 0;
    emptyRows.textContent = table.rows.length === 0 ? 'This run has no tests.' : 'No test matches the filter.';
  }

  function setStatusFilter(st) {
    statusFilter = st;
    recomputeView();
    list.scrollToTop();
    list.render();
    renderChips(table.counts());
    syncUrl();
  }

  filter.addEventListener('input', () => {
    tokens = filter.value.toLowerCase().split(/\s+/).filter(Boolean);
    recomputeView();
    list.scrollToTop();
    list.render();
    syncUrl();
  });
  tokens = filter.value.toLowerCase().split(/\s+/).filter(Boolean);

  // --- first render -------------------------------------------------------------------------
  renderHeader();
  recomputeView();
  renderProgress(table.counts());
  list.render();
  if (window.performance && typeof performance.mark === 'function') performance.mark('handoff:run-rendered');

  // --- live updates -------------------------------------------------------------------------
  if (run.finished_at) return;

  let pendingTests = new Map();
  let pendingRun = null;
  let frame = 0;
  let source = null;

  function flush() {
    frame = 0;
    let added = false;
    for (const data of pendingTests.values()) added = table.apply(data) || added;
    pendingTests = new Map();
    if (added) table.sort();
    if (pendingRun) {
      const r = pendingRun;
      pendingRun = null;
      applyRun(r);
    }
    const counts = table.counts();
    if (added || tokens.length || statusFilter) recomputeView();
    renderProgress(counts);
    list.render();
    if (run.finished_at) renderActions();
  }

  function schedule() {
    if (!frame) frame = requestAnimationFrame(flush);
  }

  function applyRun(data) {
    const {tests: _ignored, ...rest} = data;
    Object.assign(run, rest);
    renderHeader();
    if (run.finished_at && source) {
      stopLive('');
      reconcile();
    }
  }

  // Once the run has ended, one fresh read settles anything the stream did not carry.
  async function reconcile() {
    let fresh;
    try {
      fresh = await api(`/runs/${id}`, {signal: ctx.signal});
    } catch {
      return;
    }
    if (!ctx.alive) return;
    let added = false;
    for (const t of fresh.tests || []) {
      const row = table.byName.get(t.name);
      if (row && row.status === t.status && row.attempt === t.attempt && row.message === t.message &&
          row.duration_ms === t.duration_ms && row.change === t.change) continue;
      added = table.apply(t) || added;
    }
    if (added) table.sort();
    delete fresh.tests;
    Object.assign(run, fresh);
    renderHeader();
    loadDeliveries();
    loadFailures();
    recomputeView();
    renderProgress(table.counts());
    list.render();
  }

  function stopLive(text) {
    if (source) {
      source.close();
      source = null;
    }
    clearInterval(ticker);
    live.textContent = text;
    live.classList.remove('on');
  }

  const ticker = setInterval(() => {
    if (run.started_at && !run.finished_at) durationEl.textContent = duration(runDuration(run));
  }, 1000);

  source = new EventSource(`/api/v1/runs/${id}/events`);
  live.textContent = '● live';
  live.classList.add('on');
  source.addEventListener('run', (ev) => {
    try {
      pendingRun = JSON.parse(ev.data);
    } catch {
      return;
    }
    schedule();
  });
  source.addEventListener('test', (ev) => {
    let data;
    try {
      data = JSON.parse(ev.data);
    } catch {
      return;
    }
    if (data && typeof data.name === 'string') {
      pendingTests.set(data.name, data);
      schedule();
    }
  });
  source.addEventListener('open', () => {
    live.textContent = '● live';
    live.classList.add('on');
  });
  source.addEventListener('error', () => {
    if (!source) return;
    if (source.readyState === EventSource.CLOSED) {
      stopLive('live updates stopped: reload to refresh');
    } else {
      live.textContent = 'reconnecting…';
      live.classList.remove('on');
    }
  });
  ctx.onCleanup(() => {
    if (frame) cancelAnimationFrame(frame);
    stopLive('');
  });
}
