// Issue 19, section 3 in the browser: a test failing in two runs in a row is marked "failing
// since" the first on the run page and the test page; the test's history lists both runs with
// its first failure; failures are grouped by cause on the run and suite pages; the search page
// finds the runs by failure text and by test name.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  assertNoPageErrors, byTestId, launchBrowser, openPage, startServer, testRow, waitFor,
} from './helpers.mjs';

describe('history', () => {
  let server, browser, first, second;

  before(async () => {
    server = await startServer('history');
    browser = await launchBrowser();
    first = await server.api.waitFinished((await server.api.trigger('Checkout', { reference: 'h-1' })).id);
    second = await server.api.waitFinished((await server.api.trigger('Checkout', { reference: 'h-2' })).id);
    assert.equal(second.status, 'failed');
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  test('a test failing again is marked failing since its first run, on the run and test pages', async () => {
    const page = await openPage(browser, server);
    await page.goto(`/runs/${second.id}`);
    const flag = byTestId(testRow(page, 'Payment'), 'change-flag');
    await waitFor(flag, 'the change flag of Payment');
    assert.equal(await flag.getAttribute('data-change'), 'still_failing');
    assert.equal((await flag.textContent()).trim(), `failing since #${first.id}`);
    assert.equal(await byTestId(testRow(page, 'Address'), 'change-flag').count(), 0,
      'a test that passed both times has no mark');
    // The failures by cause: Payment's one cause, its test linked.
    const group = byTestId(byTestId(page, 'run-failures'), 'failure-group');
    await waitFor(group, 'the failure groups of the run');
    assert.match(await group.textContent(), /payment declined: want status <n>, got <n>/);

    await testRow(page, 'Payment').click();
    await page.waitForURL(`**/runs/${second.id}/tests/Payment`);
    await waitFor(page.locator('.meta-line [data-testid="change-flag"]'), 'the change on the test page');
    const rows = byTestId(page, 'history-row');
    await waitFor(rows.nth(1), 'two runs in the history');
    assert.deepEqual(await rows.evaluateAll((els) => els.map((e) => Number(e.dataset.run))), [second.id, first.id]);
    assert.match(await byTestId(page, 'first-failure').textContent(), new RegExp(`First failed in run #${first.id} \\(h-1\\)`));
    assertNoPageErrors(page, assert);
  });

  test('the suite page ranks its causes and links each test to its history', async () => {
    const page = await openPage(browser, server);
    await page.goto('/suites/Checkout');
    const group = byTestId(byTestId(page, 'suite-failures'), 'failure-group').first();
    await waitFor(group, 'the most common failures');
    assert.match(await group.textContent(), /payment declined/);
    assert.match(await group.textContent(), /^2\s*2/, 'two failures in two runs');
    await page.locator('tr[data-test="Payment"] [data-testid="history-link"]').click();
    await page.waitForURL('**/suites/Checkout/tests/Payment');
    await waitFor(byTestId(page, 'history-row').nth(1), 'the history page');
    assertNoPageErrors(page, assert);
  });

  test('search finds failures by text and tests by name', async () => {
    const page = await openPage(browser, server);
    await page.goto('/');
    await byTestId(page, 'nav-search').click();
    await page.waitForURL('**/search');
    await byTestId(page, 'search-failure').fill('PAYMENT DECLINED');
    await page.keyboard.press('Enter');
    await page.waitForURL('**/search?failure=PAYMENT+DECLINED');
    const rows = byTestId(page, 'search-row');
    await waitFor(rows.nth(1), 'two matches');
    assert.equal(await rows.count(), 2);
    assert.match(await rows.first().textContent(), new RegExp(`#${second.id}Checkout.*Payment`));
    await page.goto('/search?test=addr');  // a deep link is the app too
    await waitFor(rows.nth(1), 'the runs of Address');
    assert.match(await rows.first().textContent(), /Address/);
    assertNoPageErrors(page, assert);
  });
});
