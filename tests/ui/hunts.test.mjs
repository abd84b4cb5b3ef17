// Hunts (issue 21): start a hunt from a suite's page, watch it live until it stops at the
// first failure; the test page's "Hunt this test"; stop a hunt from its page; /hunts a page
// at a time.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import {
  assertNoPageErrors, byTestId, launchBrowser, makeTempDir, openPage, pollUntil, startServer, waitFor,
} from './helpers.mjs';

describe('hunts', () => {
  let server, browser, api, gateDir;

  before(async () => {
    gateDir = makeTempDir('handoff-ui-hunt-');
    server = await startServer('hunts', { env: { UI_FIXTURE_GATE_DIR: gateDir } });
    api = server.api;
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  test('a hunt started from the suite page stops at the first failure, live', async () => {
    const page = await openPage(browser, server);
    await page.goto('/suites/Hunted');
    await byTestId(page, 'hunt-button').click();
    const form = byTestId(page, 'hunt-form');
    await waitFor(form, 'the hunt form');
    await byTestId(form, 'hunt-repeat').fill('10');
    assert.equal(await byTestId(form, 'hunt-until-failure').isChecked(), true, 'until failure is the default');
    await byTestId(form, 'hunt-submit').click();

    // The hunt's page, which follows it until it ends: Intermittent fails on its third run.
    await page.waitForURL(/\/hunts\/\d+$/);
    const id = Number(page.url().match(/\/hunts\/(\d+)$/)[1]);
    await waitFor(page.locator('[data-testid="hunt-status"]', { hasText: 'failed' }), 'the hunt to end failed',
                  { timeout: 30000 });
    assert.equal(await byTestId(page, 'hunt-runs').locator('strong').textContent(), '3');
    assert.equal(await byTestId(page, 'hunt-passed').locator('strong').textContent(), '2');
    assert.equal(await byTestId(page, 'hunt-failed').locator('strong').textContent(), '1');
    assert.match(await byTestId(page, 'hunt-rate').textContent(), /33\.3% \(95% CI 6\.1%–79\.2%\)/);
    const rows = page.locator('[data-testid="hunt-run"]');
    assert.equal(await rows.count(), 3);
    assert.equal(await rows.first().getAttribute('data-status'), 'failed', 'the newest run is the failure');
    // Over: no stop or cancel.
    assert.equal(await byTestId(page, 'hunt-stop').count(), 0);

    // The API says the same: the page shows the server's decision.
    const hunt = await api.get(`/hunts/${id}`);
    assert.equal(hunt.status, 'failed');
    assert.equal(hunt.trigger, 'ui');
    assert.equal(hunt.runs.total, 3);
    const failing = hunt.first_failing_run;
    assert.equal(await rows.first().getAttribute('data-run'), String(failing));
    assert.equal(fs.readFileSync(path.join(gateDir, 'hunted-runs'), 'utf8').trim(), '3', 'no run after the failure');

    // The failing run links back to its hunt.
    await byTestId(page, 'hunt-first-failure').locator('a').click();
    await page.waitForURL(new RegExp(`/runs/${failing}$`));
    await waitFor(byTestId(page, 'run-hunt'), 'the run\'s hunt link');
    assert.equal(await byTestId(page, 'run-hunt').getAttribute('href'), `/hunts/${id}`);

    // Listed on /hunts.
    await page.goto('/hunts');
    const row = page.locator(`[data-testid="hunt-row"][data-hunt="${id}"]`);
    await waitFor(row, 'the hunt in the list');
    assert.match(await row.textContent(), /Hunted.*failed/);
    assertNoPageErrors(page, assert);
  });

  test('a test page hunts that test alone, and a hunt stops from its page', async () => {
    const page = await openPage(browser, server);
    await page.goto('/suites/Hunted/tests/Intermittent');
    await byTestId(page, 'hunt-button').click();
    const form = byTestId(page, 'hunt-form');
    assert.equal(await byTestId(form, 'hunt-filter').inputValue(), '^Intermittent$');
    await byTestId(form, 'hunt-repeat').fill('500');
    await byTestId(form, 'hunt-until-failure').uncheck();
    await byTestId(form, 'hunt-submit').click();
    await page.waitForURL(/\/hunts\/\d+$/);
    const id = Number(page.url().match(/\/hunts\/(\d+)$/)[1]);
    const hunt = await api.get(`/hunts/${id}`);
    assert.equal(hunt.filter, '^Intermittent$');
    assert.equal(hunt.until_failure, false);

    await waitFor(page.locator('[data-testid="hunt-status"]', { hasText: 'running' }), 'the hunt running');
    await byTestId(page, 'hunt-stop').click();
    await waitFor(page.locator('[data-testid="hunt-status"]', { hasText: 'stopped' }), 'the hunt stopped');
    const stopped = await pollUntil('the stopped hunt\'s last run to finish', async () => {
      const h = await api.get(`/hunts/${id}`);
      return h.runs.unfinished === 0 ? h : null;
    }, { timeout: 30000 });
    assert.equal(stopped.status, 'stopped');
    assert.ok(stopped.runs.total < 500, `a stopped hunt starts no new run (${stopped.runs.total})`);
    for (const run of (await api.get(`/runs?hunt=${id}`)).runs) {
      const full = await api.run(run.id);
      assert.deepEqual(full.tests.map((t) => t.name), ['Intermittent'], 'only the hunted test ran');
    }
    assert.match(await byTestId(page, 'hunt-why').textContent(), /stopped by/);
    assertNoPageErrors(page, assert);
  });

  test('/hunts shows 50 hunts and loads older ones on demand', async () => {
    for (let i = 0; i < 50; i++) {
      await api.post('/suites/Hunted/hunts', { repeat: 1, filter: '^Steady$' });
    }
    const all = (await api.get('/hunts?limit=500')).hunts;
    assert.ok(all.length > 50, `more than a page of hunts (${all.length})`);
    const page = await openPage(browser, server);
    await page.goto('/hunts');
    const rows = page.locator('[data-testid="hunt-row"]');
    await waitFor(rows.first(), 'the first page of hunts');
    assert.equal(await rows.count(), 50);
    assert.equal(await rows.first().getAttribute('data-hunt'), String(all[0].id), 'newest first');
    await byTestId(page, 'hunts-more').click();
    await pollUntil('the older hunts', async () => (await rows.count()) === all.length);
    assert.equal(await rows.last().getAttribute('data-hunt'), String(all[all.length - 1].id));
    assert.equal(await byTestId(page, 'hunts-more').isHidden(), true, 'nothing older to load');
    assertNoPageErrors(page, assert);
  });
});
