// "/schedules": every schedule, a form to add one, pause/resume and delete.

import {api, isAbort, seg} from './api.js';
import {h, replace} from './dom.js';
import {emptyState, errorBox, loading, runLink, when} from './ui.js';

function timeZoneList() {
  try {
    return typeof Intl.supportedValuesOf === 'function' ? Intl.supportedValuesOf('timeZone') : [];
  } catch {
    return [];
  }
}

export async function renderSchedules(ctx) {
  ctx.setTitle('Schedules');
  const tableBox = h('div', null, loading());
  const formErrors = h('div', {class: 'form-errors'});

  // --- create form --------------------------------------------------------------------------
  const name = h('input', {type: 'text', name: 'name', required: true, 'data-testid': 'schedule-name',
                           placeholder: 'nightly', autocomplete: 'off', spellcheck: 'false'});
  const suite = h('select', {name: 'suite', required: true, 'data-testid': 'schedule-suite'});
  const spec = h('input', {type: 'text', name: 'spec', required: true, 'data-testid': 'schedule-spec',
                           placeholder: '0 3 * * *  or  @every 30m', autocomplete: 'off', spellcheck: 'false'});
  const zones = h('datalist', {id: 'tz-list'}, timeZoneList().map((z) => h('option', {value: z})));
  const timeZone = h('input', {type: 'text', name: 'time_zone', list: 'tz-list', 'data-testid': 'schedule-timezone',
                               placeholder: 'UTC', autocomplete: 'off'});
  const filter = h('input', {type: 'text', name: 'filter', 'data-testid': 'schedule-filter',
                             placeholder: 'optional regex', autocomplete: 'off', spellcheck: 'false'});
  const huntRepeat = h('input', {type: 'number', name: 'hunt_repeat', min: 1, max: 10000, 'data-testid': 'schedule-hunt-repeat',
                                 placeholder: 'a run (empty) or a hunt of N runs'});
  const submit = h('button', {type: 'submit', class: 'primary', 'data-testid': 'schedule-submit'}, 'Add schedule');
  const form = h('form', {class: 'schedule-form panel'},
    h('h2', null, 'New schedule'),
    h('div', {class: 'form-grid'},
      h('label', null, h('span', null, 'Name'), name),
      h('label', null, h('span', null, 'Suite'), suite),
      h('label', null, h('span', null, 'Spec ', h('span', {class: 'muted'}, '(cron, @daily, @every 1h)')), spec),
      h('label', null, h('span', null, 'Time zone ', h('span', {class: 'muted'}, '(IANA, UTC if empty)')), timeZone, zones),
      h('label', null, h('span', null, 'Test filter'), filter),
      h('label', {title: 'Each firing starts a hunt: up to N runs, stopping at the first failure'},
        h('span', null, 'Hunt ', h('span', {class: 'muted'}, '(runs, until the first failure)')), huntRepeat),
      h('div', {class: 'form-actions'}, submit)),
    formErrors);

  replace(ctx.root,
    h('div', {class: 'page-head'}, h('h1', null, 'Schedules')),
    tableBox,
    form);

  // The name's example is made of the chosen suite's name: "checkout-nightly".
  const nameExample = () => {
    name.placeholder = suite.value ? `${suite.value.toLowerCase()}-nightly` : 'nightly';
  };
  suite.addEventListener('change', nameExample);
  api('/suites', {signal: ctx.signal}).then((res) => {
    replace(suite, (res.suites || []).map((s) => h('option', {value: s.name}, s.name)));
    nameExample();
  }).catch((err) => {
    if (!isAbort(err)) formErrors.appendChild(errorBox(err, 'Cannot load suites'));
  });

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    formErrors.textContent = '';
    const body = {name: name.value.trim(), suite: suite.value, spec: spec.value.trim()};
    if (timeZone.value.trim()) body.time_zone = timeZone.value.trim();
    if (filter.value.trim()) body.filter = filter.value.trim();
    if (huntRepeat.value.trim()) body.hunt = {repeat: Number(huntRepeat.value), until_failure: true};
    submit.disabled = true;
    try {
      await api('/schedules', {method: 'POST', body, signal: ctx.signal});
      name.value = '';
      spec.value = '';
      filter.value = '';
      huntRepeat.value = '';
      await load();
    } catch (err) {
      if (isAbort(err)) return;
      formErrors.appendChild(errorBox(err));
    } finally {
      submit.disabled = false;
    }
  });

  async function act(schedule, path, method, rowErrors) {
    rowErrors.textContent = '';
    try {
      await api(`/schedules/${seg(schedule.name)}${path}`, {method, signal: ctx.signal});
      await load();
    } catch (err) {
      if (isAbort(err)) return;
      rowErrors.appendChild(errorBox(err));
    }
  }

  function row(sc) {
    const rowErrors = h('div', {class: 'row-errors'});
    const buttons = [];
    if (sc.paused) {
      buttons.push(h('button', {type: 'button', 'data-testid': 'schedule-resume',
                                onclick: () => act(sc, '/resume', 'POST', rowErrors)}, 'Resume'));
    } else {
      buttons.push(h('button', {type: 'button', 'data-testid': 'schedule-pause',
                                onclick: () => act(sc, '/pause', 'POST', rowErrors)}, 'Pause'));
    }
    if (!sc.from_code) {
      buttons.push(h('button', {type: 'button', class: 'danger', 'data-testid': 'schedule-delete',
                                onclick: () => act(sc, '', 'DELETE', rowErrors)}, 'Delete'));
    }
    return h('tr', {'data-testid': 'schedule-row', 'data-schedule': sc.name, class: sc.paused ? 'paused' : null},
      h('td', null, sc.name, sc.hunt
        ? h('span', {class: 'flag', 'data-testid': 'schedule-hunt',
                     title: 'starts a hunt' + (sc.hunt.repeat ? ` of up to ${sc.hunt.repeat} runs` : '') +
                       (sc.hunt.max_duration_ms ? ` for ${Math.round(sc.hunt.max_duration_ms / 1000)}s` : '') +
                       (sc.hunt.until_failure ? ', until the first failure' : '')},
          'hunt') : null),
      h('td', null, h('a', {href: '/suites/' + seg(sc.suite)}, sc.suite)),
      h('td', null, h('code', null, sc.spec)),
      h('td', null, sc.time_zone || h('span', {class: 'muted'}, 'UTC')),
      h('td', null, sc.filter ? h('code', null, sc.filter) : h('span', {class: 'muted'}, '—')),
      h('td', null, sc.paused ? h('span', {class: 'flag'}, 'paused') : 'active'),
      h('td', null, sc.paused ? h('span', {class: 'muted'}, '—') : when(sc.next_run)),
      h('td', null, sc.last_run_id !== null && sc.last_run_id !== undefined ? runLink(sc.last_run_id) : h('span', {class: 'muted'}, '—')),
      h('td', null, sc.from_code ? h('span', {class: 'flag', title: 'declared in the test binary; cannot be deleted'}, 'code') : 'API'),
      h('td', {class: 'actions'}, buttons, rowErrors));
  }

  async function load() {
    let res;
    try {
      res = await api('/schedules', {signal: ctx.signal});
    } catch (err) {
      if (isAbort(err)) return;
      replace(tableBox, errorBox(err, 'Cannot load schedules'));
      return;
    }
    if (!ctx.alive) return;
    const list = res.schedules || [];
    replace(tableBox, list.length === 0 ? emptyState('No schedules yet.') : h('table', {class: 'table schedules-table'},
      h('thead', null, h('tr', null, h('th', null, 'Name'), h('th', null, 'Suite'), h('th', null, 'Spec'),
        h('th', null, 'Time zone'), h('th', null, 'Filter'), h('th', null, 'State'), h('th', null, 'Next run'),
        h('th', null, 'Last run'), h('th', null, 'From'), h('th', null, ''))),
      h('tbody', null, list.map(row))));
  }
  await load();
}
