// The handoff web UI: a single-page app over /api/v1 with client-side routing.

import {h, icon, replace} from './js/dom.js';
import {api, ApiError} from './js/api.js';
import {refreshRelativeTimes} from './js/ui.js';
import {renderSuites} from './js/page_suites.js';
import {renderSuite} from './js/page_suite.js';
import {renderRun} from './js/page_run.js';
import {renderTest} from './js/page_test.js';
import {renderFlaky} from './js/page_flaky.js';
import {renderSchedules} from './js/page_schedules.js';
import {renderActivity} from './js/page_activity.js';
import {renderSearch, renderTestHistory} from './js/history.js';
import {renderHunt, renderHunts} from './js/page_hunts.js';

const ROUTES = [
  {pattern: /^\/$/, nav: 'suites', render: renderSuites},
  {pattern: /^\/suites\/([^/]+)$/, nav: 'suites', render: (ctx, [suite]) => renderSuite(ctx, suite)},
  {pattern: /^\/suites\/([^/]+)\/tests\/(.+)$/, nav: 'suites', render: (ctx, [suite, test]) => renderTestHistory(ctx, suite, test)},
  // A run, and a test of a run, belong to their suite: the nav says Suites, as their
  // breadcrumbs do (Suites / suite / run). Activity is the feed of every run, not their home.
  {pattern: /^\/runs\/(\d+)$/, nav: 'suites', render: (ctx, [id]) => renderRun(ctx, Number(id))},
  {pattern: /^\/runs\/(\d+)\/tests\/(.+)$/, nav: 'suites', render: (ctx, [id, test]) => renderTest(ctx, Number(id), test)},
  {pattern: /^\/flaky$/, nav: 'flaky', render: renderFlaky},
  {pattern: /^\/schedules$/, nav: 'schedules', render: renderSchedules},
  {pattern: /^\/hunts$/, nav: 'hunts', render: renderHunts},
  {pattern: /^\/hunts\/(\d+)$/, nav: 'hunts', render: (ctx, [id]) => renderHunt(ctx, Number(id))},
  {pattern: /^\/activity$/, nav: 'activity', render: renderActivity},
  {pattern: /^\/search$/, nav: 'search', render: renderSearch},
];

const THEME_KEY = 'handoff-theme';
const main = document.getElementById('main');
let current = null;  // {controller, cleanups}

function decode(part) {
  try {
    return decodeURIComponent(part);
  } catch {
    return part;
  }
}

function setTitle(title) {
  document.title = title ? `${title} · handoff` : 'handoff';
}

function renderNotFound(ctx) {
  ctx.setTitle('Not found');
  replace(ctx.root,
    h('section', {class: 'not-found'},
      h('h1', null, 'Page not found'),
      h('p', null, 'Nothing lives at ', h('code', null, location.pathname), '.'),
      h('p', null, h('a', {href: '/'}, 'Back to the suites'))));
}

// The server's session: {auth, authenticated, name, role}. With authentication on, the UI
// logs in with a token; the server keeps it in an HttpOnly cookie the page never sees.
let session = null;

async function loadSession() {
  try {
    session = await api('/session');
  } catch (err) {
    session = null;  // an older or unreachable server: pages show their own errors
  }
  paintSession();
}

function paintSession() {
  const el = document.querySelector('[data-testid="session"]');
  if (!session || !session.auth || !session.authenticated) {
    replace(el);
    return;
  }
  replace(el,
    h('span', {class: 'session-user', 'data-testid': 'session-user', title: `Signed in with a ${session.via}`},
      session.name, h('span', {class: 'muted'}, ` · ${session.role}`)),
    session.via === 'cookie'
      ? h('button', {type: 'button', 'data-testid': 'logout', onclick: logOut}, 'Log out')
      : null);
}

async function logOut() {
  try {
    session = await api('/session', {method: 'DELETE'});
  } catch (err) {
    console.error(err);
  }
  paintSession();
  route();
}

function renderLogin(ctx) {
  ctx.setTitle('Log in');
  const input = h('input', {type: 'password', name: 'token', autocomplete: 'current-password',
                            required: true, 'data-testid': 'login-token', 'aria-label': 'API token',
                            placeholder: 'API token'});
  const error = h('div', {class: 'error', 'data-testid': 'login-error', hidden: true});
  const submit = h('button', {type: 'submit', class: 'primary', 'data-testid': 'login-submit'}, 'Log in');
  const form = h('form', {class: 'login', 'data-testid': 'login-form', onsubmit: async (ev) => {
    ev.preventDefault();
    submit.disabled = true;
    error.hidden = true;
    try {
      session = await api('/session', {method: 'POST', body: {token: input.value}});
      paintSession();
      route();
    } catch (err) {
      error.textContent = err.status === 401 ? 'That token is not valid.' : String(err.message || err);
      error.hidden = false;
      submit.disabled = false;
      input.select();
    }
  }},
  h('h1', null, 'Log in to handoff'),
  h('p', {class: 'muted'}, 'This server needs an API token (its operator makes one with the ',
    h('code', null, 'token'), ' command).'),
  input, submit, error);
  replace(ctx.root, form);
  input.focus();
}

function route() {
  if (current) {
    current.controller.abort();
    for (const fn of current.cleanups) {
      try { fn(); } catch (err) { console.error(err); }
    }
  }
  const controller = new AbortController();
  const cleanups = [];
  current = {controller, cleanups};

  let path = location.pathname;
  if (path.length > 1 && path.endsWith('/')) path = path.slice(0, -1);
  let match = null, found = null;
  for (const r of ROUTES) {
    match = r.pattern.exec(path);
    if (match) { found = r; break; }
  }
  for (const a of document.querySelectorAll('.topnav a[data-nav]')) {
    const active = found && a.dataset.nav === found.nav;
    if (active) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  const root = h('div', {class: 'page'});
  replace(main, root);
  const ctx = {
    root,
    signal: controller.signal,
    navigate,
    setTitle,
    query: new URLSearchParams(location.search),
    onCleanup: (fn) => cleanups.push(fn),
    get alive() { return !controller.signal.aborted; },
  };
  const needsLogin = session && session.auth && !session.authenticated;
  const render = needsLogin ? renderLogin : found ? found.render : renderNotFound;
  const args = match ? match.slice(1).map(decode) : [];
  Promise.resolve()
    .then(() => render(ctx, args))
    .catch((err) => {
      if (err && err.name === 'AbortError') return;
      // The session ended (logged out elsewhere, or its token revoked): log in again.
      if (err instanceof ApiError && err.status === 401 && session && session.auth) {
        session = {auth: true, authenticated: false};
        paintSession();
        if (ctx.alive) route();
        return;
      }
      console.error(err);
      if (ctx.alive) root.appendChild(h('div', {class: 'error', 'data-testid': 'error-message'}, String(err.message || err)));
    });
}

// Goes to an app path, adding a history entry (or replacing the current one).
export function navigate(path, {replace: replaceEntry = false} = {}) {
  if (replaceEntry) history.replaceState(null, '', path);
  else history.pushState(null, '', path);
  window.scrollTo(0, 0);
  route();
}

// Real links everywhere; plain left clicks on same-origin app links are routed here, while
// middle, ctrl, meta, shift and alt clicks keep the browser's own behaviour.
document.addEventListener('click', (ev) => {
  if (ev.defaultPrevented || ev.button !== 0 || ev.metaKey || ev.ctrlKey || ev.shiftKey || ev.altKey) return;
  const a = ev.target.closest && ev.target.closest('a');
  if (!a) return;
  const href = a.getAttribute('href');
  if (href === null || a.hasAttribute('download')) return;
  const target = a.getAttribute('target');
  if (target && target !== '_self') return;
  const url = new URL(href, location.href);
  if (url.origin !== location.origin || url.pathname.startsWith('/api/')) return;
  if (url.pathname === location.pathname && url.search === location.search && url.hash) return;
  ev.preventDefault();
  navigate(url.pathname + url.search + url.hash);
});

window.addEventListener('popstate', route);
history.scrollRestoration = 'manual';

// Theme: the system's by default; the toggle stores an explicit choice.
const darkQuery = window.matchMedia('(prefers-color-scheme: dark)');
function effectiveTheme() {
  return document.documentElement.getAttribute('data-theme') || (darkQuery.matches ? 'dark' : 'light');
}
function paintToggle() {
  const btn = document.querySelector('[data-testid="theme-toggle"]');
  const theme = effectiveTheme();
  const next = theme === 'dark' ? 'light' : 'dark';
  replace(btn, icon(theme === 'dark' ? 'moon' : 'sun'));
  btn.title = `Theme: ${theme} (switch to ${next})`;
  btn.setAttribute('aria-label', `Switch to ${next} theme`);
  btn.dataset.theme = theme;
}
document.querySelector('[data-testid="theme-toggle"]').addEventListener('click', () => {
  const next = effectiveTheme() === 'dark' ? 'light' : 'dark';
  document.documentElement.setAttribute('data-theme', next);
  try { localStorage.setItem(THEME_KEY, next); } catch { /* not saved */ }
  paintToggle();
});
darkQuery.addEventListener('change', paintToggle);
paintToggle();

setInterval(() => refreshRelativeTimes(main), 30_000);
loadSession().then(route);
