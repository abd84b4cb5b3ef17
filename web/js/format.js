// Formatting of times, durations and rates. API times are RFC 3339 UTC strings or null.

const DATE_TIME = new Intl.DateTimeFormat(undefined, {
  year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit',
});
const TIME_ONLY = new Intl.DateTimeFormat(undefined, {hour: '2-digit', minute: '2-digit', second: '2-digit'});

export function parseTime(iso) {
  if (!iso) return null;
  const t = Date.parse(iso);
  return Number.isNaN(t) ? null : t;
}

// "Nov 23, 2026, 10:00:01" in local time; "—" for null.
export function localTime(iso) {
  const t = parseTime(iso);
  if (t === null) return '—';
  const d = new Date(t);
  const now = new Date();
  if (d.toDateString() === now.toDateString()) return TIME_ONLY.format(d);
  return DATE_TIME.format(d);
}

export function fullTime(iso) {
  const t = parseTime(iso);
  return t === null ? '' : DATE_TIME.format(new Date(t)) + ' (' + iso + ')';
}

// "3 min ago", "in 2 h", "just now".
export function relativeTime(iso, now = Date.now()) {
  const t = parseTime(iso);
  if (t === null) return '—';
  const diff = t - now;
  const abs = Math.abs(diff);
  let text;
  if (abs < 10_000) return diff > 0 ? 'in a few s' : 'just now';
  if (abs < 60_000) text = Math.round(abs / 1000) + ' s';
  else if (abs < 3_600_000) text = Math.round(abs / 60_000) + ' min';
  else if (abs < 86_400_000) text = Math.round(abs / 3_600_000) + ' h';
  else if (abs < 30 * 86_400_000) text = Math.round(abs / 86_400_000) + ' d';
  else return localTime(iso);
  return diff > 0 ? 'in ' + text : text + ' ago';
}

// "340 ms", "1.2 s", "2 m 5 s", "1 h 3 m"; "—" for null or undefined.
export function duration(ms) {
  if (ms === null || ms === undefined || Number.isNaN(ms)) return '—';
  ms = Math.max(0, ms);
  if (ms < 1000) return Math.round(ms) + ' ms';
  if (ms < 10_000) return (ms / 1000).toFixed(1).replace(/\.0$/, '') + ' s';
  if (ms < 60_000) return Math.round(ms / 1000) + ' s';
  const totalS = Math.round(ms / 1000);
  if (totalS < 3600) {
    const m = Math.floor(totalS / 60), sec = totalS % 60;
    return sec ? `${m} m ${sec} s` : `${m} m`;
  }
  const hrs = Math.floor(totalS / 3600), m = Math.floor((totalS % 3600) / 60);
  return m ? `${hrs} h ${m} m` : `${hrs} h`;
}

// Duration of a span or attempt given in nanoseconds.
export function durationNs(ns) {
  if (ns === null || ns === undefined) return '—';
  if (ns < 1e6) return ns < 1000 ? ns + ' ns' : (ns / 1000).toFixed(0) + ' µs';
  return duration(ns / 1e6);
}

// The duration of a run, live while it runs.
export function runDuration(run, now = Date.now()) {
  if (run.duration_ms !== null && run.duration_ms !== undefined) return run.duration_ms;
  const start = parseTime(run.started_at);
  if (start === null) return null;
  const end = parseTime(run.finished_at);
  return (end === null ? now : end) - start;
}

// The share of a finished run's tests that passed among those that ran to a pass or a
// failure (soft failures included; skipped and cancelled tests left out), or null when
// unknown or none ran.
export function passRate(totals) {
  if (!totals || !totals.total) return null;
  const ran = totals.total - (totals.skipped || 0) - (totals.cancelled || 0);
  return ran > 0 ? totals.passed / ran : null;
}

// Why a run has no point in a suite's pass-rate trend, or '' when it has one: a cancelled
// run says nothing about the tests, and a partial run (a filter, a retry of the failed
// tests) nothing about the tests it left out — a retry that passes is not a 100 % suite.
export function trendExclusion(run) {
  if (run.status === 'cancelled') return 'cancelled';
  if (run.status === 'error') return 'ended in error';
  if (run.partial) return 'partial run (a filter or a retry of some tests)';
  return '';
}

// The run's pass rate as a point of its suite's trend, or null (see trendExclusion).
export function trendRate(run) {
  return trendExclusion(run) ? null : passRate(run.totals);
}

export function percent(rate) {
  if (rate === null || rate === undefined) return '—';
  const p = rate * 100;
  return (p === 100 || p === 0 ? p.toFixed(0) : p.toFixed(1)) + ' %';
}

export function plural(n, one, many = one + 's') {
  return n + ' ' + (n === 1 ? one : many);
}
