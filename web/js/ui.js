// Shared pieces of the pages: status badges, times, labels, errors and the "run a suite" form.

import {api, seg} from './api.js';
import {h, icon} from './dom.js';
import {fullTime, localTime, relativeTime} from './format.js';

export function badge(status, attrs = {}) {
  const st = status || 'unknown';
  return h('span', {class: 'badge st-' + st, ...attrs}, st);
}

// A time shown as local time plus "3 min ago"; the relative part refreshes itself.
export function when(iso, {relativeOnly = false} = {}) {
  if (!iso) return h('span', {class: 'muted'}, '—');
  const rel = h('span', {class: 'rel', 'data-rel': iso}, relativeTime(iso));
  if (relativeOnly) return h('time', {datetime: iso, title: fullTime(iso)}, rel);
  return h('time', {datetime: iso, title: fullTime(iso)}, localTime(iso), ' ', h('span', {class: 'muted'}, '(', rel, ')'));
}

// Refreshes every relative time on the page.
export function refreshRelativeTimes(root = document) {
  const now = Date.now();
  for (const el of root.querySelectorAll('[data-rel]')) {
    el.textContent = relativeTime(el.getAttribute('data-rel'), now);
  }
}

export function labelChips(labels) {
  const entries = Object.entries(labels || {});
  if (entries.length === 0) return null;
  return h('span', {class: 'labels'},
    entries.map(([k, v]) => h('span', {class: 'chip', title: `${k}=${v}`}, k, h('span', {class: 'chip-eq'}, '='), v)));
}

export function errorBox(err, prefix = '') {
  const code = err && err.code ? err.code : 'error';
  const msg = err && err.message ? err.message : String(err);
  return h('div', {class: 'error', 'data-testid': 'error-message', role: 'alert'},
    prefix ? prefix + ': ' : '', h('strong', null, code), ' — ', msg);
}

export function loading(text = 'Loading…') {
  return h('p', {class: 'loading muted'}, text);
}

export function emptyState(...children) {
  return h('p', {class: 'empty muted'}, ...children);
}

// A placeholder for a test filter, made of the suite's own tests ("e.g. Login|Logout"), so
// every user sees an example that works on the suite in front of them.
export function filterExample(tests) {
  const names = (tests || []).slice(0, 2);
  return names.length ? `e.g. ${names.join('|')}` : 'regex over test names';
}

// What stands for the run button of a suite that only has ingested runs (nothing to run):
// a note saying where its runs come from.
export function ingestedNote() {
  return h('span', {class: 'ns', 'data-testid': 'ingest-only',
                    title: 'This suite has only runs ingested from reports (POST /api/v1/suites/{suite}/ingest): the server has no command to run it.'},
    'ingested');
}

// The run button and its small form: an optional test filter (regex) and reference.
// `navigate` is called with the new run's page once the server has accepted it.
export function runControl(suiteName, navigate, tests = []) {
  const filter = h('input', {type: 'text', name: 'filter', 'data-testid': 'run-filter', placeholder: filterExample(tests),
                             autocomplete: 'off', spellcheck: 'false', 'aria-label': 'test filter (regex)'});
  const reference = h('input', {type: 'text', name: 'reference', 'data-testid': 'run-reference',
                                placeholder: 'commit, release, ticket', autocomplete: 'off', 'aria-label': 'reference'});
  const hold = h('input', {type: 'checkbox', name: 'hold_on_failure', 'data-testid': 'run-hold'});
  const submit = h('button', {type: 'submit', class: 'primary', 'data-testid': 'run-submit'}, icon('play'), ' Start run');
  const errors = h('div', {class: 'form-errors'});
  const form = h('form', {class: 'run-form', hidden: true},
    h('label', null, h('span', null, 'Test filter ', h('span', {class: 'muted'}, '(regex, optional)')), filter),
    h('label', null, h('span', null, 'Reference ', h('span', {class: 'muted'}, '(optional)')), reference),
    h('label', {class: 'check', title: 'The first failing test waits before its cleanups, its services still running, until released'},
      hold, h('span', null, 'Hold on failure')),
    h('div', {class: 'form-actions'}, submit,
      h('button', {type: 'button', onclick: () => { form.hidden = true; button.setAttribute('aria-expanded', 'false'); }}, 'Cancel')),
    errors);
  const button = h('button', {type: 'button', class: 'run-button', 'data-testid': 'run-button', 'aria-expanded': 'false',
                              onclick: () => {
                                form.hidden = !form.hidden;
                                button.setAttribute('aria-expanded', String(!form.hidden));
                                if (!form.hidden) filter.focus();
                              }},
    icon('play'), ' Run');
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    errors.textContent = '';
    submit.disabled = true;
    const body = {trigger: 'ui'};
    if (filter.value.trim()) body.filter = filter.value.trim();
    if (reference.value.trim()) body.reference = reference.value.trim();
    if (hold.checked) body.hold_on_failure = true;
    try {
      const run = await api(`/suites/${seg(suiteName)}/runs`, {method: 'POST', body});
      navigate('/runs/' + run.id);
    } catch (err) {
      errors.appendChild(errorBox(err));
      submit.disabled = false;
    }
  });
  return {button, form};
}

export function link(href, ...children) {
  return h('a', {href}, ...children);
}

export function runLink(id) {
  return h('a', {href: '/runs/' + id, class: 'run-id'}, '#' + id);
}

export function testHref(runId, name) {
  return `/runs/${runId}/tests/${encodeURIComponent(name)}`;
}
