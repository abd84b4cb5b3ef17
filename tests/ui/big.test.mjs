// A run of 10,000 tests: the run page's first render time and its virtual scrolling.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import {
  OUTPUT_DIR, assertNoPageErrors, byTestId, launchBrowser, openPage, startServer, testRow, waitFor,
  waitRunStatus,
} from './helpers.mjs';

const METRICS = process.env.UI_METRICS || path.join(OUTPUT_DIR, '..', 'ui-metrics.json');

// Waits for the run page's performance mark and returns its time since navigation start.
async function renderedMark(page) {
  try {
    await page.waitForFunction(() => performance.getEntriesByName('handoff:run-rendered').length > 0, undefined, { timeout: 30000 });
  } catch (e) {
    throw new Error(`the run page made no performance.mark('handoff:run-rendered') within 30 s: ${e.message.split('\n')[0]}`);
  }
  return Math.round(await page.evaluate(() => performance.getEntriesByName('handoff:run-rendered')[0].startTime));
}

describe('big run', () => {
  let server, browser, api;

  before(async () => {
    server = await startServer('big');
    api = server.api;
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  test('a 10,000-test run renders fast, virtualized, and scrolls to its last test', async () => {
    const run = await api.waitFinished((await api.trigger('Big')).id, { timeout: 120000 });
    assert.equal(run.status, 'passed');
    assert.equal(run.counts.total, 10000);

    // Cold: a fresh browser context opens the run's link directly, as from a chat message.
    const page = await openPage(browser, server);
    await page.goto(`/runs/${run.id}`);
    const firstRenderMs = await renderedMark(page);
    // Warm: the same page reloaded, the app's files in the browser's cache.
    await page.reload();
    const warmRenderMs = await renderedMark(page);
    await waitRunStatus(page, 'passed');
    await waitFor(page.locator('[data-testid="progress-bar"][data-done="10000"][data-total="10000"]'), 'progress 10000 of 10000');
    await waitFor(testRow(page, 'T00000'), 'the first test row');

    const rowsAtTop = await byTestId(page, 'test-row').count();
    assert.ok(rowsAtTop > 0 && rowsAtTop < 300, `the list is virtualized: ${rowsAtTop} rows in the DOM for 10,000 tests`);
    assert.ok(firstRenderMs > 0 && firstRenderMs < 10000, `first render took ${firstRenderMs} ms`);

    // Scroll the list to its end (again at each poll, as rows are measured and the height may
    // change) until the last test's row is in the DOM, then check it is on screen.
    const list = byTestId(page, 'test-list');
    await page.waitForFunction(() => {
      const el = document.querySelector('[data-testid="test-list"]');
      el.scrollTop = el.scrollHeight;
      window.scrollTo(0, document.documentElement.scrollHeight);
      return document.querySelector('[data-testid="test-row"][data-test="T09999"]') !== null;
    }, undefined, { polling: 100, timeout: 10000 });
    const last = await waitFor(testRow(page, 'T09999'), 'the last test row');
    const onScreen = await last.evaluate((el) => {
      const r = el.getBoundingClientRect();
      const l = document.querySelector('[data-testid="test-list"]').getBoundingClientRect();
      const top = Math.max(0, l.top), bottom = Math.min(window.innerHeight, l.bottom);
      return r.height > 0 && r.bottom > top && r.top < bottom;
    });
    assert.ok(onScreen, 'the last test row is inside the visible part of the list');
    assert.equal(await last.getAttribute('data-status'), 'passed');
    assert.equal(await testRow(page, 'T00000').count(), 0, 'the first row left the DOM when scrolled away');
    const rowsAtBottom = await byTestId(page, 'test-row').count();
    assert.ok(rowsAtBottom < 300, `still virtualized at the bottom: ${rowsAtBottom} rows`);
    assert.ok(await list.isVisible());

    const metrics = {
      run_page_first_render_ms: firstRenderMs,
      run_page_first_render_warm_ms: warmRenderMs,
      tests: 10000,
      dom_rows_at_top: rowsAtTop,
      dom_rows_at_bottom: rowsAtBottom,
      viewport: '1366x768',
      measured_at: new Date().toISOString(),
    };
    fs.mkdirSync(path.dirname(METRICS), { recursive: true });
    fs.writeFileSync(METRICS, JSON.stringify(metrics, null, 2) + '\n');
    assertNoPageErrors(page, assert);
    await page.context().close();
  });
});
