// Screenshots of the main pages at 1366x768: always into the build directory
// (UI_OUTPUT_DIR/screenshots), and into docs/images when UPDATE_SCREENSHOTS=1.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import {
  VIEWPORT, byTestId, launchBrowser, openPage, saveScreenshot, startServer, testRow, waitFor,
  waitRunStatus, waitTheme,
} from './helpers.mjs';

// Width and height from a PNG's IHDR chunk.
function pngSize(file) {
  const b = fs.readFileSync(file);
  assert.equal(b.subarray(1, 4).toString(), 'PNG', `${file} is a PNG`);
  return { width: b.readUInt32BE(16), height: b.readUInt32BE(20) };
}

describe('screenshots', () => {
  let server, browser, api, run;

  before(async () => {
    server = await startServer('screenshots');
    api = server.api;
    browser = await launchBrowser();
    // Some history: two runs of Checkout (failed, flaky), one of Gate and of Markup, a schedule.
    await api.waitFinished((await api.trigger('Checkout', { reference: 'v2.3.0', initiated_by: 'deploy-bot' })).id);
    await api.waitFinished((await api.trigger('Gate', { reference: 'v2.3.0' })).id);
    await api.waitFinished((await api.trigger('Markup')).id);
    run = await api.waitFinished((await api.trigger('Checkout', { reference: 'v2.3.1', initiated_by: 'deploy-bot' })).id);
    await api.post('/schedules', { name: 'checkout-nightly', suite: 'Checkout', spec: '0 3 * * *', time_zone: 'Europe/Paris' });
    await api.post('/schedules', { name: 'gate-hourly', suite: 'Gate', spec: '@hourly' });
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  const shots = () => [
    { name: 'ui-suites', path: '/', ready: (p) => waitFor(p.locator('[data-testid="suite-card"][data-suite="Checkout"]'), 'suite cards') },
    { name: 'ui-suite', path: '/suites/Checkout', ready: (p) => waitFor(p.getByText('Cart, payment and receipt checks of the UI fixture.').first(), 'the suite page') },
    { name: 'ui-run', path: `/runs/${run.id}`, ready: async (p) => { await waitRunStatus(p, 'failed'); await waitFor(testRow(p, 'Payment'), 'rows'); } },
    { name: 'ui-test', path: `/runs/${run.id}/tests/Payment`, ready: async (p) => { await waitFor(byTestId(p, 'failure').first(), 'the failure'); await waitFor(byTestId(p, 'span-bar').first(), 'the spans'); } },
    { name: 'ui-flaky', path: '/flaky', ready: (p) => waitFor(p.locator('[data-testid="flaky-row"][data-test="Flaky"]'), 'the flaky row') },
    { name: 'ui-schedules', path: '/schedules', ready: (p) => waitFor(p.locator('[data-testid="schedule-row"][data-schedule="checkout-nightly"]'), 'the schedule rows') },
    { name: 'ui-activity', path: '/activity', ready: (p) => waitFor(byTestId(p, 'activity-row').first(), 'activity rows') },
  ];

  test('the main pages, light theme, and the run page in dark', async () => {
    const page = await openPage(browser, server, { colorScheme: 'light' });
    const written = [];
    for (const shot of shots()) {
      await page.goto(shot.path);
      await shot.ready(page);
      await waitTheme(page, 'light');
      written.push(...(await saveScreenshot(page, shot.name)));
    }
    await page.goto(`/runs/${run.id}`);
    await waitRunStatus(page, 'failed');
    await byTestId(page, 'theme-toggle').click();
    await waitTheme(page, 'dark');
    written.push(...(await saveScreenshot(page, 'ui-run-dark')));

    for (const file of written) {
      assert.deepEqual(pngSize(file), VIEWPORT, `${file} is ${VIEWPORT.width}x${VIEWPORT.height}`);
    }
    console.log(`screenshots: ${written.join(' ')}`);
    await page.context().close();
  });
});
