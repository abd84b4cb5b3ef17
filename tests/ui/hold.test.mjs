// Hold on failure in the UI: the run form's "Hold on failure" box starts a run that holds
// its first failing test; the run page shows the hold (pid, temp dir, endpoints) with a
// Release button, and after the release the run goes on and ends failed.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  assertNoPageErrors, byTestId, launchBrowser, openPage, runIdFromUrl, startServer,
  visibleTestId, waitFor, waitRunStatus,
} from './helpers.mjs';

describe('hold', () => {
  let server, browser, api;

  before(async () => {
    server = await startServer('hold');
    api = server.api;
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  test('a held run shows its hold and the Release button releases it', async () => {
    const page = await openPage(browser, server);
    await page.goto('/');
    const card = await waitFor(page.locator('[data-testid="suite-card"][data-suite="Checkout"]'),
      'the Checkout suite card');
    await byTestId(card, 'run-button').click();
    await visibleTestId(page, 'run-hold').check();
    await visibleTestId(page, 'run-submit').click();
    await page.waitForURL(/\/runs\/\d+$/);
    const id = runIdFromUrl(page);

    // Checkout/Payment fails on its first attempt: it is held, as the API says.
    await waitRunStatus(page, 'held', { timeout: 20000 });
    const held = await api.run(id);
    assert.equal(held.hold_on_failure, true, 'the form posts hold_on_failure');
    assert.equal(held.status, 'held');
    assert.equal(held.hold.test, 'Payment');
    const banner = await waitFor(byTestId(page, 'hold-banner'), 'the hold banner');
    const text = await banner.innerText();
    assert.match(text, /Payment is held/);
    assert.ok(text.includes(String(held.hold.pid)), `the banner shows the pid ${held.hold.pid}: ${text}`);
    assert.match(text, /Temp dir\s+none/, 'Payment makes no temp dir');

    await byTestId(page, 'release-button').click();
    await waitRunStatus(page, 'failed', { timeout: 20000 });
    const done = await api.run(id);
    assert.equal(done.hold.ended, 'released');
    assert.ok(done.hold.released_at, 'the hold records when it was released');
    await waitFor(byTestId(page, 'release-button'), 'no Release button once released', { state: 'detached' });
    assert.match(await banner.innerText(), /Payment was held \(released/);
    assertNoPageErrors(page, assert);
  });
});
