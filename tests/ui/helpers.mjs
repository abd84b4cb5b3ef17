// Shared parts of the browser tests: the real server (ui_fixture serve on a free port, an
// in-memory store), its API, Debian's headless Chromium through playwright-core, and waits
// that are Playwright's own auto-waiting or polling of the API (never fixed sleeps).

import { spawn } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as delay } from 'node:timers/promises';
import { chromium } from 'playwright-core';

export const HERE = path.dirname(fileURLToPath(import.meta.url));
export const REPO = path.resolve(HERE, '..', '..');
// Where the tests write what they produce: server logs, screenshots, metrics.
export const OUTPUT_DIR = process.env.UI_OUTPUT_DIR || path.join(REPO, 'build', 'ui');
export const CHROMIUM = process.env.UI_CHROMIUM || '/usr/bin/chromium';
export const VIEWPORT = { width: 1366, height: 768 };

fs.mkdirSync(OUTPUT_DIR, { recursive: true });

// --- The server -------------------------------------------------------------------------------

const servers = new Set();
// A test file that dies (an uncaught error, a killed runner) still takes its servers along.
process.on('exit', () => {
  for (const s of servers) {
    try {
      s.child.kill('SIGKILL');
    } catch {}
  }
});

// Starts `ui_fixture serve --port 0 --db sqlite::memory:` with extra environment, waits for
// the printed address and for /readyz, and returns { url, api, stop, logFile, gateDir }.
// `name` names its log file in OUTPUT_DIR.
// With `token`, the returned api sends it as a bearer token (a server with --auth-file or
// HANDOFF_AUTH_TOKEN).
export async function startServer(name, { env = {}, args = [], token } = {}) {
  const fixture = process.env.UI_FIXTURE;
  if (!fixture) throw new Error('UI_FIXTURE is not set: the path of the ui_fixture binary (ctest sets it)');
  if (!fs.existsSync(fixture)) throw new Error(`UI_FIXTURE=${fixture} does not exist: build the ui_fixture target`);
  const logFile = path.join(OUTPUT_DIR, `server-${name}.log`);
  const log = fs.createWriteStream(logFile);
  const child = spawn(
    fixture,
    ['serve', '--port', '0', '--db', 'sqlite::memory:', '--shutdown-timeout', '2s', '--grace', '1s', ...args],
    { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const server = { child, logFile };
  servers.add(server);
  child.stderr.pipe(log, { end: false });

  const url = await new Promise((resolve, reject) => {
    let buffered = '';
    const timer = setTimeout(() => reject(new Error(`${fixture} serve printed no address within 15 s (log: ${logFile})`)), 15000);
    child.stdout.on('data', (chunk) => {
      log.write(chunk);
      buffered += chunk.toString();
      const m = buffered.match(/serving \d+ suites on (http:\/\/[^\s]+)/);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`${fixture} serve exited (${code ?? signal}) before serving (log: ${logFile})`));
    });
  });

  const api = makeApi(url, token);
  await pollUntil(`${url}/readyz to answer 200`, async () => {
    try {
      return (await fetch(`${url}/readyz`)).status === 200;
    } catch {
      return false;
    }
  }, { timeout: 15000 });

  server.url = url;
  server.api = api;
  server.stop = async () => {
    servers.delete(server);
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    const t = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(t);
    log.end();
  };
  return server;
}

// A temporary directory for a gate file, removed when the process exits.
export function makeTempDir(prefix) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

// --- The API ----------------------------------------------------------------------------------

export class ApiError extends Error {
  constructor(status, body, what) {
    super(`${what}: HTTP ${status}: ${JSON.stringify(body)}`);
    this.status = status;
    this.body = body;
  }
}

function makeApi(base, token) {
  async function call(method, p, body) {
    const headers = body === undefined ? {} : { 'Content-Type': 'application/json' };
    if (token) headers.Authorization = `Bearer ${token}`;
    const res = await fetch(`${base}/api/v1${p}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    const json = text ? JSON.parse(text) : null;
    if (!res.ok) throw new ApiError(res.status, json, `${method} ${p}`);
    return json;
  }
  const api = {
    base,
    get: (p) => call('GET', p),
    post: (p, body) => call('POST', p, body),
    del: (p) => call('DELETE', p),
    // Starts a run of `suite` over the API and returns the run.
    trigger: (suite, body = {}) => call('POST', `/suites/${encodeURIComponent(suite)}/runs`, body),
    run: (id) => call('GET', `/runs/${id}`),
    // Polls the run until `pred(run)` holds; returns the run.
    async waitRun(id, pred, { timeout = 30000, what = 'the run to reach the wanted state' } = {}) {
      let last;
      await pollUntil(`run ${id}: ${what}`, async () => pred((last = await api.run(id))), {
        timeout,
        describe: () => `status=${last?.status} counts=${JSON.stringify(last?.counts)}`,
      });
      return last;
    },
    waitFinished(id, opts = {}) {
      return api.waitRun(id, (r) => ['passed', 'failed', 'cancelled', 'error'].includes(r.status), {
        what: 'to finish',
        ...opts,
      });
    },
  };
  return api;
}

// Polls `fn` (every 25 ms, up to `timeout`) until it returns a truthy value, and returns it.
export async function pollUntil(what, fn, { timeout = 10000, interval = 25, describe } = {}) {
  const deadline = Date.now() + timeout;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeout} ms waiting for ${what}${describe ? ` (last: ${describe()})` : ''}`);
    }
    await delay(interval);
  }
}

// --- The browser ------------------------------------------------------------------------------

export async function launchBrowser() {
  return chromium.launch({ executablePath: CHROMIUM, headless: true });
}

// A fresh context and page on `server`, light colour scheme, 1366x768. Dialogs (confirm) are
// accepted; uncaught page errors are collected in page.errors for assertNoPageErrors.
export async function openPage(browser, server, { colorScheme = 'light' } = {}) {
  const context = await browser.newContext({ baseURL: server.url, viewport: VIEWPORT, colorScheme });
  context.setDefaultTimeout(10000);
  const page = await context.newPage();
  page.errors = [];
  page.on('pageerror', (e) => page.errors.push(e));
  page.on('dialog', (d) => d.accept());
  return page;
}

export function assertNoPageErrors(page, assert) {
  assert.deepEqual(page.errors.map((e) => String(e.stack || e)), [], 'the page threw uncaught errors');
}

export const byTestId = (scope, id) => scope.locator(`[data-testid="${id}"]`);

// The visible element with this data-testid (forms may exist once per card).
export const visibleTestId = (scope, id) => scope.locator(`[data-testid="${id}"]:visible`);

// The row of test `name` in the run page's list.
export const testRow = (page, name) =>
  page.locator(`[data-testid="test-row"][data-test="${cssString(name)}"]`);

export function cssString(s) {
  return s.replace(/\\/g, '\\\\').replace(/"/g, '\\"');
}

// Waits (Playwright auto-waiting) for `locator` to reach `state`, with a readable error.
export async function waitFor(locator, what, { state = 'visible', timeout = 10000 } = {}) {
  try {
    await locator.waitFor({ state, timeout });
  } catch (e) {
    throw new Error(`waiting for ${what} (${state}): ${e.message.split('\n')[0]}`);
  }
  return locator;
}

// Waits for the run page's status to read `status`.
export function waitRunStatus(page, status, opts) {
  return waitFor(
    byTestId(page, 'run-status').filter({ hasText: new RegExp(`^\\s*${status}\\s*$`, 'i') }),
    `run-status "${status}"`,
    opts,
  );
}

// The id of the run in the page's URL (/runs/{id}...).
export function runIdFromUrl(page) {
  const m = new URL(page.url()).pathname.match(/^\/runs\/(\d+)/);
  if (!m) throw new Error(`not on a run page: ${page.url()}`);
  return Number(m[1]);
}

// The line of the fixture that carries `marker` (1-based), to check file:line in the UI.
export function fixtureLine(marker) {
  const lines = fs.readFileSync(path.join(REPO, 'tests', 'fixtures', 'ui_fixture.cc'), 'utf8').split('\n');
  const i = lines.findIndex((l) => l.includes(marker));
  if (i < 0) throw new Error(`no line with ${marker} in ui_fixture.cc`);
  return i + 1;
}

// In the page (self-contained, as Playwright sends its source; the app's CSP forbids eval):
// the colour behind the page, i.e. the first of <html>, <body> and the app's root element
// whose computed background is not transparent, and its relative luminance (0 black .. 1 white).
function backgroundInPage() {
  let bg = 'rgb(255, 255, 255)';  // the browser's canvas when nothing paints
  for (const el of [document.documentElement, document.body, document.body && document.body.firstElementChild]) {
    if (!el) continue;
    const c = getComputedStyle(el).backgroundColor;
    if (c && c !== 'transparent' && !/rgba\(\s*0,\s*0,\s*0,\s*0\s*\)/.test(c)) { bg = c; break; }
  }
  const [r, g, b] = bg.match(/[\d.]+/g).slice(0, 3).map(Number).map((c) => {
    const s = c / 255;
    return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
  });
  return { bg, luminance: 0.2126 * r + 0.7152 * g + 0.0722 * b };
}

export const pageBackground = async (page) => (await page.evaluate(backgroundInPage)).bg;

// Waits until the page's background is dark (luminance < 0.2) or light (> 0.5) and has
// stopped changing (a CSS transition may be running), and returns it.
export async function waitTheme(page, theme, { timeout = 5000 } = {}) {
  let last = null;
  let lastSeen;
  await pollUntil(`a ${theme} background`, async () => {
    const now = await page.evaluate(backgroundInPage);
    lastSeen = now;
    const ok = (theme === 'dark' ? now.luminance < 0.2 : now.luminance > 0.5) && last === now.bg;
    last = now.bg;
    return ok;
  }, { timeout, interval: 50, describe: () => JSON.stringify(lastSeen) });
  return last;
}

// Saves a screenshot as OUTPUT_DIR/screenshots/<name>.png, and as docs/images/<name>.png
// when UPDATE_SCREENSHOTS=1. Returns the paths written.
export async function saveScreenshot(page, name) {
  const dir = path.join(OUTPUT_DIR, 'screenshots');
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${name}.png`);
  await page.screenshot({ path: file, animations: 'disabled', caret: 'hide' });
  const written = [file];
  if (process.env.UPDATE_SCREENSHOTS === '1') {
    const docs = path.join(REPO, 'docs', 'images');
    fs.mkdirSync(docs, { recursive: true });
    fs.copyFileSync(file, path.join(docs, `${name}.png`));
    written.push(path.join(docs, `${name}.png`));
  }
  return written;
}
