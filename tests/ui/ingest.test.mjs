// A suite made by an ingested report (POST /api/v1/suites/{suite}/ingest) in the UI: listed
// with the binary's suites, marked ingested, with no Run button; its run page shows the
// report's tests and offers no retry.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  assertNoPageErrors, byTestId, launchBrowser, openPage, startServer, waitFor, waitRunStatus,
} from './helpers.mjs';

const TAP = 'TAP version 13\nok 1 - adds\nnot ok 2 - totals\n  ---\n  error: "3 !== 4"\n  ...\n1..2\n';

describe('ingested suites', () => {
  let server, browser, run;

  before(async () => {
    server = await startServer('ingest');
    browser = await launchBrowser();
    const res = await fetch(`${server.api.base}/api/v1/suites/node-cart/ingest?reference=ui-ingest`, {
      method: 'POST', headers: { 'Content-Type': 'text/x-tap' }, body: TAP,
    });
    assert.equal(res.status, 201, await res.clone().text());
    run = await res.json();
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  test('the suite list shows it ingested, with nothing to run', async () => {
    const page = await openPage(browser, server);
    await page.goto('/');
    const card = page.locator('[data-testid="suite-card"][data-suite="node-cart"]');
    await waitFor(card, 'the node-cart card');
    await waitFor(byTestId(card, 'ingest-only'), 'its ingested mark');
    assert.equal(await byTestId(card, 'run-button').count(), 0);
    // The binary's suites keep their Run button.
    const checkout = page.locator('[data-testid="suite-card"][data-suite="Checkout"]');
    await waitFor(byTestId(checkout, 'run-button'), 'the Run button of Checkout');

    await page.goto('/suites/node-cart');
    await waitFor(byTestId(page, 'ingest-only'), 'the ingested mark of the suite page');
    assert.equal(await byTestId(page, 'run-button').count(), 0);

    await page.goto(`/runs/${run.id}`);
    await waitRunStatus(page, 'failed');
    await waitFor(page.locator('[data-test="totals"]').first(), 'the failed test', { state: 'attached' });
    assert.equal(await byTestId(page, 'retry-button').count(), 0);
    assertNoPageErrors(page, assert);
  });
});
