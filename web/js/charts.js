// Small inline-SVG charts: sparklines, the suite trend chart and per-test stability strips.

import {h, s} from './dom.js';
import {duration, localTime, passRate, percent, trendExclusion, trendRate} from './format.js';

function pathOf(points) {
  // points: [x, y|null]; a null breaks the line.
  let d = '';
  let pen = false;
  for (const [x, y] of points) {
    if (y === null) { pen = false; continue; }
    d += (pen ? 'L' : 'M') + x.toFixed(1) + ' ' + y.toFixed(1);
    pen = true;
  }
  return d;
}

// A line sparkline of values in [min, max] (nulls are gaps), newest last.
export function sparkline(values, {width = 96, height = 22, min = 0, max = null, label = '', kind = 'rate'} = {}) {
  const known = values.filter((v) => v !== null && v !== undefined);
  if (known.length === 0) return h('span', {class: 'muted', title: 'no finished runs with results'}, '—');
  const top = max === null ? Math.max(...known) || 1 : max;
  const pad = 2;
  const step = values.length > 1 ? (width - 2 * pad) / (values.length - 1) : 0;
  const y = (v) => (v === null || v === undefined) ? null
    : pad + (height - 2 * pad) * (1 - (Math.min(v, top) - min) / ((top - min) || 1));
  const pts = values.map((v, i) => [pad + i * step, y(v)]);
  const svg = s('svg', {class: 'spark spark-' + kind, width, height, viewBox: `0 0 ${width} ${height}`,
                        role: 'img', 'aria-label': label},
    s('title', null, label));
  if (kind === 'bars') {
    const bw = Math.max(1.5, Math.min(8, (width - 2 * pad) / values.length - 1));
    values.forEach((v, i) => {
      if (v === null || v === undefined) return;
      const x = values.length > 1 ? pad + i * ((width - 2 * pad - bw) / (values.length - 1)) : width / 2 - bw / 2;
      const yy = y(v);
      svg.appendChild(s('rect', {x: x.toFixed(1), y: yy.toFixed(1), width: bw.toFixed(1),
                                 height: Math.max(1, height - pad - yy).toFixed(1)}));
    });
    return svg;
  }
  svg.insertBefore(s('rect', {class: 'spark-bg', x: 0, y: 0, width, height, rx: 2}), svg.firstChild);
  svg.appendChild(s('path', {class: 'line', d: pathOf(pts)}));
  const last = pts.filter((p) => p[1] !== null).pop();
  if (last) svg.appendChild(s('circle', {cx: last[0], cy: last[1], r: 2}));
  return svg;
}

function niceMax(v) {
  if (v <= 0) return 1000;
  const p = Math.pow(10, Math.floor(Math.log10(v)));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

// The suite page's chart: pass rate (line, left axis) and duration (bars, right axis) of runs,
// oldest first. runs: [{id, status, created_at, duration_ms, totals}].
export function trendChart(runs) {
  const W = 760, H = 190, L = 44, R = 56, T = 12, B = 26;
  const iw = W - L - R, ih = H - T - B;
  const n = runs.length;
  const svg = s('svg', {class: 'trend', viewBox: `0 0 ${W} ${H}`, role: 'img',
                        'aria-label': 'pass rate and duration of recent runs', preserveAspectRatio: 'xMidYMid meet'});
  if (n === 0) return h('p', {class: 'muted'}, 'No runs yet.');
  const durs = runs.map((r) => r.duration_ms).filter((d) => d !== null && d !== undefined);
  const dmax = niceMax(durs.length ? Math.max(...durs) : 0);
  const slot = iw / n;
  const x = (i) => L + slot * (i + 0.5);
  // Grid and axes.
  for (const f of [0, 0.25, 0.5, 0.75, 1]) {
    const yy = T + ih * (1 - f);
    svg.appendChild(s('line', {class: 'grid', x1: L, x2: L + iw, y1: yy, y2: yy}));
    svg.appendChild(s('text', {class: 'axis axis-rate', x: L - 6, y: yy + 4, 'text-anchor': 'end'}, (f * 100) + '%'));
    svg.appendChild(s('text', {class: 'axis axis-dur', x: L + iw + 6, y: yy + 4}, duration(dmax * f)));
  }
  // Duration bars.
  const bw = Math.max(2, Math.min(22, slot * 0.6));
  runs.forEach((r, i) => {
    if (r.duration_ms === null || r.duration_ms === undefined) return;
    const bh = Math.max(1, ih * r.duration_ms / dmax);
    svg.appendChild(s('rect', {class: 'dur-bar', x: (x(i) - bw / 2).toFixed(1), y: (T + ih - bh).toFixed(1),
                               width: bw.toFixed(1), height: bh.toFixed(1)}));
  });
  // Pass-rate line and points (each a link to its run). Cancelled and partial runs have no
  // point (trendExclusion); the line joins the runs around them.
  const rates = runs.map(trendRate);
  const yRate = (v) => T + ih * (1 - v);
  svg.appendChild(s('path', {class: 'rate-line',
    d: pathOf(rates.map((v, i) => [x(i), v === null ? null : yRate(v)]).filter((p) => p[1] !== null))}));
  runs.forEach((r, i) => {
    const rate = rates[i];
    const cy = rate === null ? T + ih : yRate(rate);
    const left = trendExclusion(r);
    const rateText = left ? `pass rate ${percent(passRate(r.totals))} (${left}: not in the trend)` : `pass rate ${percent(rate)}`;
    const tip = `Run #${r.id} · ${r.status} · ${localTime(r.created_at)}\n${rateText} · ${duration(r.duration_ms)}`;
    svg.appendChild(s('a', {href: '/runs/' + r.id},
      s('title', null, tip),
      s('rect', {class: 'hit', x: (x(i) - slot / 2).toFixed(1), y: T, width: slot.toFixed(1), height: ih}),
      rate === null ? null : s('circle', {class: 'pt st-' + r.status, 'data-run': String(r.id),
                                          cx: x(i).toFixed(1), cy: cy.toFixed(1), r: 3.5})));
  });
  // X labels: first and last run ids.
  svg.appendChild(s('text', {class: 'axis', x: x(0), y: H - 8, 'text-anchor': 'middle'}, '#' + runs[0].id));
  if (n > 1) svg.appendChild(s('text', {class: 'axis', x: x(n - 1), y: H - 8, 'text-anchor': 'middle'}, '#' + runs[n - 1].id));
  return h('figure', {class: 'chart'}, svg,
    h('figcaption', null,
      h('span', {class: 'key key-rate'}), 'pass rate', ' ', h('span', {class: 'key key-dur'}), 'duration'));
}

// One small coloured cell per run: a test's final status across recent runs, oldest first.
export function stabilityStrip(testName, statuses, runs) {
  const strip = h('div', {class: 'strip', role: 'list', 'aria-label': 'status in recent runs'});
  statuses.forEach((st, i) => {
    const run = runs[i];
    if (!st || !run) {
      strip.appendChild(h('span', {class: 'cell cell-none', role: 'listitem',
                                   title: run ? `Run #${run.id}: not run` : 'not run'}));
      return;
    }
    strip.appendChild(h('a', {class: 'cell st-' + st, role: 'listitem',
                              href: `/runs/${run.id}/tests/${encodeURIComponent(testName)}`,
                              title: `Run #${run.id}: ${st} · ${localTime(run.created_at)}`}));
  });
  return strip;
}
