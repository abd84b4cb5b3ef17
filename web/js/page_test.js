// "/runs/{id}/tests/{test}": every attempt of one test with its output (ANSI colours
// rendered), failures, values and spans.

import {api, isAbort, isNotFound, seg} from './api.js';
import {h, replace} from './dom.js';
import {ansiRenderer} from './ansi.js';
import {duration, durationNs, parseTime, plural} from './format.js';
import {badge, emptyState, errorBox, labelChips, loading, testHref, when} from './ui.js';
import {changeFlag, exactTestPattern, historyPanel} from './history.js';
import {huntControl} from './page_hunts.js';

function basename(path) {
  const i = Math.max(path.lastIndexOf('/'), path.lastIndexOf('\\'));
  return i < 0 ? path : path.slice(i + 1);
}

function outputBlock(lines) {
  const pre = h('pre', {class: 'output', 'data-testid': 'output'});
  if (!lines || lines.length === 0) {
    pre.classList.add('output-empty');
    pre.textContent = 'No output.';
    return pre;
  }
  const render = ansiRenderer();
  for (const line of lines) {
    const el = h('span', {class: 'line'});
    render(el, String(line));
    pre.appendChild(el);
  }
  return pre;
}

function failuresList(failures) {
  if (!failures || failures.length === 0) return null;
  return h('section', null, h('h3', null, 'Failures'),
    h('ul', {class: 'failures'}, failures.map((f) => h('li', {class: 'failure', 'data-testid': 'failure'},
      f.file ? h('span', {class: 'loc', title: f.line ? `${f.file}:${f.line}` : f.file},
        basename(f.file) + (f.line ? ':' + f.line : '') + ': ') : null,
      h('span', {class: 'prewrap'}, f.message)))));
}

function valuesTable(values) {
  const entries = Object.entries(values || {});
  if (entries.length === 0) return null;
  return h('section', null, h('h3', null, 'Values'),
    h('table', {class: 'table kv'}, h('tbody', null, entries.map(([k, v]) =>
      h('tr', {'data-testid': 'value-row'}, h('th', {scope: 'row'}, k), h('td', {class: 'prewrap'}, v))))));
}

// Spans as a timeline: bars placed by their start relative to the attempt's start, sized by
// their elapsed time.
function spansTimeline(spans, attempt) {
  if (!spans || spans.length === 0) return null;
  const startMs = parseTime(attempt.started_at);
  const starts = spans.map((sp) => (typeof sp.start_ns === 'number' ? sp.start_ns / 1e6 : parseTime(sp.start)));
  let origin = startMs === null ? Math.min(...starts) : Math.min(startMs, ...starts.filter((x) => x !== null));
  if (!Number.isFinite(origin)) origin = 0;
  const ends = spans.map((sp, i) => (starts[i] ?? origin) + (sp.elapsed_ns || 0) / 1e6);
  const total = Math.max(attempt.duration_ms || 0, ...ends.map((e) => e - origin), 0.001);
  return h('section', null,
    h('h3', null, 'Spans ', h('span', {class: 'muted small'}, `(0 – ${duration(total)})`)),
    h('div', {class: 'timeline'}, spans.map((sp, i) => {
      const offset = Math.max(0, (starts[i] ?? origin) - origin);
      const left = (100 * offset) / total;
      const width = Math.max(0.4, (100 * (sp.elapsed_ns || 0) / 1e6) / total);
      const attrs = Object.keys(sp.attributes || {}).length ? labelChips(sp.attributes) : null;
      return h('div', {class: 'span-row'},
        h('div', {class: 'span-name', title: sp.name}, sp.name),
        h('div', {class: 'span-track'},
          h('div', {class: 'span-bar', 'data-testid': 'span-bar',
                    style: {left: Math.min(left, 99.6).toFixed(2) + '%', width: Math.min(width, 100 - Math.min(left, 99.6)).toFixed(2) + '%'},
                    title: `${sp.name}: +${duration(offset)}, ${durationNs(sp.elapsed_ns)}`})),
        h('div', {class: 'span-time num'}, durationNs(sp.elapsed_ns)),
        h('div', {class: 'span-attrs'}, attrs));
    })));
}

// The attempt's traces and logs elsewhere (serve --traces-link-template and
// --logs-link-template), opened in a new tab.
function attemptLinks(links) {
  if (!links || (!links.traces && !links.logs)) return null;
  const link = (href, text) => href
    ? h('a', {href, class: 'attempt-link', 'data-testid': `${text}-link`, target: '_blank', rel: 'noopener noreferrer'}, text)
    : null;
  return h('span', {class: 'attempt-links'}, link(links.traces, 'traces'), link(links.logs, 'logs'));
}

function byteSize(n) {
  if (n < 1024) return plural(n, 'byte');
  if (n < 1024 * 1024) return (n / 1024).toFixed(1) + ' KiB';
  return (n / (1024 * 1024)).toFixed(1) + ' MiB';
}

// What a browser shows of an attachment: images inline (those the server serves inline:
// never SVG), text and JSON as a preview of their start (textContent: never markup), every
// attachment as a download.
const INLINE_IMAGES = ['image/png', 'image/jpeg', 'image/gif', 'image/webp'];
const TEXT_TYPES = ['text/plain', 'application/json'];
const PREVIEW_BYTES = 64 * 1024;

function attachmentItem(att) {
  const download = h('a', {href: att.url, download: att.name, class: 'attachment-download',
                           'data-testid': 'attachment-download'}, 'download');
  const head = h('div', {class: 'attachment-head'},
    h('span', {class: 'attachment-name'}, att.name), ' ',
    h('span', {class: 'muted small'}, `${att.media_type}, ${byteSize(att.size)}`), ' ', download);
  let body = null;
  if (INLINE_IMAGES.includes(att.media_type)) {
    body = h('a', {href: att.url, target: '_blank', rel: 'noopener noreferrer'},
      h('img', {src: att.url, alt: att.name, loading: 'lazy', class: 'attachment-image',
                'data-testid': 'attachment-image'}));
  } else if (TEXT_TYPES.includes(att.media_type)) {
    body = h('pre', {class: 'output attachment-preview', 'data-testid': 'attachment-preview'}, 'Loading…');
    fetch(att.url)
      .then((res) => (res.ok ? res.text() : Promise.reject(new Error(res.status + ' ' + res.statusText))))
      .then((text) => {
        const cut = text.length > PREVIEW_BYTES || att.size > PREVIEW_BYTES;
        body.textContent = cut ? text.slice(0, PREVIEW_BYTES) + '\n… (download for the rest)' : text;
      })
      .catch((err) => { body.textContent = 'Cannot load the preview: ' + err.message; });
  }
  return h('li', {class: 'attachment', 'data-testid': 'attachment', 'data-name': att.name}, head, body);
}

function attachmentsList(attachments) {
  if (!attachments || attachments.length === 0) return null;
  return h('section', null, h('h3', null, 'Attachments'),
    h('ul', {class: 'attachments'}, attachments.map(attachmentItem)));
}

function attemptSection(a, count) {
  return h('section', {class: 'panel attempt', 'data-testid': 'attempt', 'data-attempt': a.attempt},
    h('div', {class: 'attempt-head'},
      h('h2', null, `Attempt ${a.attempt}`, count > 1 ? h('span', {class: 'muted'}, ` of ${count}`) : null),
      badge(a.status),
      a.soft_failure ? h('span', {class: 'flag'}, 'soft failure') : null,
      h('span', {class: 'muted'}, duration(a.duration_ms)),
      h('span', {class: 'muted small'}, 'started ', when(a.started_at)),
      attemptLinks(a.links)),
    a.skip_reason ? h('p', {class: 'skip-reason'}, 'Skipped: ', h('span', {class: 'prewrap'}, a.skip_reason)) : null,
    failuresList(a.failures),
    h('section', null, h('h3', null, 'Output ', h('span', {class: 'muted small'}, '(' + plural((a.output || []).length, 'line') + ')')),
      outputBlock(a.output)),
    attachmentsList(a.attachments),
    valuesTable(a.values),
    spansTimeline(a.spans, a));
}

export async function renderTest(ctx, runId, name) {
  ctx.setTitle(`${name} · Run #${runId}`);
  replace(ctx.root, loading());
  const runCrumb = h('a', {href: `/runs/${runId}`}, `Run #${runId}`);
  const suiteCrumb = h('span', null);
  const crumbs = h('nav', {class: 'crumbs'}, h('a', {href: '/'}, 'Suites'), ' / ', suiteCrumb, runCrumb, ' / ', name);
  const subtests = h('div');
  const history = h('div');
  const body = h('div', {class: 'page'});
  let timer = 0;
  ctx.onCleanup(() => clearTimeout(timer));

  // Reads the test (again while it has not finished) and redraws it.
  async function load(first) {
    let data;
    try {
      data = await api(`/runs/${runId}/tests/${seg(name)}`, {signal: ctx.signal});
    } catch (err) {
      if (isAbort(err)) return null;
      if (first) replace(ctx.root, crumbs, errorBox(err, isNotFound(err) ? 'No such test' : 'Cannot load the test'));
      return null;
    }
    if (!ctx.alive) return null;
    const t = data.test || {name, status: 'unknown'};
    const attempts = data.attempts || [];
    const slash = name.lastIndexOf('/');
    const parentLink = slash > 0 ? h('a', {href: testHref(runId, name.slice(0, slash))}, '↑ ', name.slice(0, slash)) : null;
    const unfinished = t.status === 'pending' || t.status === 'running';
    replace(body,
      h('div', {class: 'page-head'},
        h('h1', {class: 'test-title'}, h('span', {class: 'break'}, t.name), ' ', badge(t.status))),
      h('div', {class: 'meta-line'},
        h('span', null, plural(attempts.length, 'attempt')),
        t.flaky ? h('span', {class: 'flag flaky'}, 'flaky: passed on retry') : null,
        t.soft_failure ? h('span', {class: 'flag'}, 'soft failure') : null,
        changeFlag(t),
        t.duration_ms !== undefined && !unfinished ? h('span', {class: 'muted'}, duration(t.duration_ms)) : null,
        unfinished ? h('span', {class: 'live on'}, '● live') : null,
        parentLink),
      t.message ? h('p', {class: 'message prewrap'}, t.message) : null,
      attempts.length ? attempts.map((a) => attemptSection(a, attempts.length)) : emptyState('This test has not run yet.'));
    if (unfinished) timer = setTimeout(() => load(false), 1500);
    return data;
  }

  const runPromise = api(`/runs/${runId}`, {signal: ctx.signal}).catch(() => null);
  const data = await load(true);
  if (!data) return;
  const huntSlot = h('div', {class: 'hunt-slot'});
  replace(ctx.root, crumbs, body, huntSlot, subtests, history);

  const run = await runPromise;
  if (!run || !ctx.alive) return;
  replace(suiteCrumb, h('a', {href: '/suites/' + seg(run.suite)}, run.suite), ' / ');
  if (run.trigger !== 'ingest') {
    // Hunt this test: its suite's runs, filtered to it, until it fails.
    const hunt = huntControl(run.suite, ctx.navigate, {filter: exactTestPattern(name), label: 'Hunt this test'});
    replace(huntSlot, h('div', {class: 'head-actions'}, hunt.button), hunt.form);
  }
  replace(history, historyPanel(ctx, run.suite, name, {current: runId}));
  const prefix = name + '/';
  const children = (run.tests || []).filter((r) => r.name.startsWith(prefix) && !r.name.slice(prefix.length).includes('/'));
  if (children.length) {
    replace(subtests, h('section', {class: 'panel'}, h('h2', null, 'Subtests'),
      h('ul', {class: 'plain-list'}, children.map((c) => h('li', null, badge(c.status), ' ',
        h('a', {href: testHref(runId, c.name)}, c.name.slice(prefix.length)),
        ' ', h('span', {class: 'muted small'}, duration(c.duration_ms)))))));
  }
}
