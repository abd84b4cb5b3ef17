// The schedules page: create, pause, resume, delete; a bad cron spec shows the API's error.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ApiError, assertNoPageErrors, byTestId, launchBrowser, openPage, pollUntil, startServer, waitFor,
} from './helpers.mjs';

describe('schedules', () => {
  let server, browser, api;

  before(async () => {
    server = await startServer('schedules');
    api = server.api;
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  const row = (page, name) => page.locator(`[data-testid="schedule-row"][data-schedule="${name}"]`);
  const apiSchedule = async (name) => (await api.get('/schedules')).schedules.find((s) => s.name === name);

  async function fillForm(page, { name, suite, spec }) {
    await byTestId(page, 'schedule-name').fill(name);
    await byTestId(page, 'schedule-suite').selectOption(suite);
    await byTestId(page, 'schedule-spec').fill(spec);
    await byTestId(page, 'schedule-submit').click();
  }

  test('create, pause, resume and delete a schedule', async () => {
    const page = await openPage(browser, server);
    await page.goto('/schedules');
    // The suite select offers the server's suites.
    await waitFor(byTestId(page, 'schedule-suite').locator('option[value="Checkout"]'), 'Checkout in the suite select', { state: 'attached' });
    await fillForm(page, { name: 'ui-nightly', suite: 'Checkout', spec: '0 3 * * *' });

    const r = await waitFor(row(page, 'ui-nightly'), 'the new schedule row');
    assert.match(await r.textContent(), /0 3 \* \* \*/);
    assert.match(await r.textContent(), /Checkout/);
    const created = await apiSchedule('ui-nightly');
    assert.ok(created, 'the API has the schedule');
    assert.equal(created.suite, 'Checkout');
    assert.equal(created.spec, '0 3 * * *');
    assert.equal(created.paused, false);

    await byTestId(r, 'schedule-pause').click();
    await waitFor(byTestId(r, 'schedule-resume'), 'the resume button of a paused schedule');
    await pollUntil('the API to show the schedule paused', async () => (await apiSchedule('ui-nightly')).paused === true);

    await byTestId(r, 'schedule-resume').click();
    await waitFor(byTestId(r, 'schedule-pause'), 'the pause button of a resumed schedule');
    await pollUntil('the API to show the schedule resumed', async () => (await apiSchedule('ui-nightly')).paused === false);

    await byTestId(r, 'schedule-delete').click();
    await waitFor(row(page, 'ui-nightly'), 'the deleted schedule row to go', { state: 'detached' });
    await pollUntil('the API to forget the schedule', async () => (await apiSchedule('ui-nightly')) === undefined);

    // A reload shows what the server has, not what the page remembers.
    await page.reload();
    await waitFor(byTestId(page, 'schedule-spec'), 'the schedules page after reload');
    assert.equal(await row(page, 'ui-nightly').count(), 0);
    assertNoPageErrors(page, assert);
    await page.context().close();
  });

  test("a bad cron spec shows the API's error message", async () => {
    const bad = { name: 'ui-bad', suite: 'Checkout', spec: '61 * * * *' };
    // What the API says about this spec (it creates nothing).
    const apiError = await api.post('/schedules', bad).then(
      () => assert.fail('the API accepted a bad spec'),
      (e) => { assert.ok(e instanceof ApiError && e.status === 400, String(e)); return e.body.error.message; },
    );
    assert.match(apiError, /61/);

    const page = await openPage(browser, server);
    await page.goto('/schedules');
    await waitFor(byTestId(page, 'schedule-suite').locator('option[value="Checkout"]'), 'Checkout in the suite select', { state: 'attached' });
    await fillForm(page, bad);
    const error = await waitFor(byTestId(page, 'error-message').filter({ hasText: apiError }).first(), `the error "${apiError}"`);
    assert.ok((await error.textContent()).includes(apiError));
    assert.equal(await row(page, 'ui-bad').count(), 0, 'no row for a schedule that was refused');
    assert.equal(await apiSchedule('ui-bad'), undefined);
    assertNoPageErrors(page, assert);
    await page.context().close();
  });
});
