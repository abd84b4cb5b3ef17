// Deep links served by the real server, the section the nav marks, placeholders, history
// (back/forward) and the colour theme.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  assertNoPageErrors, byTestId, launchBrowser, openPage, pollUntil, startServer, waitFor,
  waitRunStatus, waitTheme,
} from './helpers.mjs';

// Every CSS custom property (--name) that <html> and <body> resolve, with its value.
function customProperties(page) {
  return page.evaluate(() => {
    const out = {};
    for (const sheet of document.styleSheets) {
      let rules;
      try { rules = sheet.cssRules; } catch { continue; }
      for (const rule of rules) {
        if (!rule.style) continue;
        for (const prop of rule.style) if (prop.startsWith('--')) out[prop] = null;
      }
    }
    for (const el of [document.documentElement, document.body]) {
      const cs = getComputedStyle(el);
      for (const prop of Object.keys(out)) out[prop] = (out[prop] ?? '') + '|' + cs.getPropertyValue(prop).trim();
    }
    return out;
  });
}

describe('navigation', () => {
  let server, browser, api, run;

  before(async () => {
    server = await startServer('navigation');
    api = server.api;
    browser = await launchBrowser();
    run = await api.waitFinished((await api.trigger('Checkout', { reference: 'ui-nav' })).id);
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  // Each deep link, loaded directly, is the app (not a 404) and shows its page.
  const pages = () => [
    { path: `/runs/${run.id}`, shows: async (page) => waitRunStatus(page, 'failed') },
    { path: `/runs/${run.id}/tests/Payment`, shows: async (page) => waitFor(byTestId(page, 'failure').first(), 'the failure') },
    { path: `/runs/${run.id}/tests/Cart`, shows: async (page) => waitFor(byTestId(page, 'value-row').first(), 'the value of Cart') },
    { path: '/suites/Checkout', shows: async (page) => waitFor(page.getByText('Cart, payment and receipt checks of the UI fixture.').first(), 'the suite description') },
    { path: '/flaky', shows: async (page) => waitFor(page.locator('[data-testid="flaky-row"][data-test="Flaky"]'), 'the Flaky row') },
    { path: '/schedules', shows: async (page) => waitFor(byTestId(page, 'schedule-spec'), 'the schedule form') },
    { path: '/activity', shows: async (page) => waitFor(byTestId(page, 'activity-row').first(), 'an activity row') },
    { path: '/', shows: async (page) => waitFor(page.locator('[data-testid="suite-card"][data-suite="Checkout"]'), 'the Checkout card') },
  ];

  test('deep links load the app and the right page', async () => {
    const page = await openPage(browser, server);
    for (const { path, shows } of pages()) {
      const res = await page.goto(path);
      assert.equal(res.status(), 200, `GET ${path}`);
      assert.match(res.headers()['content-type'] ?? '', /text\/html/, `GET ${path} is HTML`);
      await waitFor(byTestId(page, 'nav-suites'), `the app's navigation on ${path}`);
      await shows(page);
      assert.equal(await byTestId(page, 'error-message').count(), 0, `no error on ${path}`);
    }
    assertNoPageErrors(page, assert);
    await page.context().close();
  });

  // The nav marks the section each page belongs to: a run and a test of a run are reached
  // from their suite (their breadcrumbs start with Suites), so Suites is marked there too.
  test('the nav marks the section of every page', async () => {
    const page = await openPage(browser, server);
    const sections = [
      { path: '/', nav: 'suites' },
      { path: '/suites/Checkout', nav: 'suites' },
      { path: `/runs/${run.id}`, nav: 'suites' },
      { path: `/runs/${run.id}/tests/Payment`, nav: 'suites' },
      { path: '/flaky', nav: 'flaky' },
      { path: '/schedules', nav: 'schedules' },
      { path: '/activity', nav: 'activity' },
    ];
    for (const { path, nav } of sections) {
      await page.goto(path);
      await waitFor(page.locator(`.topnav a[data-nav="${nav}"][aria-current="page"]`), `${nav} marked on ${path}`);
      const marked = await page.locator('.topnav a[aria-current="page"]').evaluateAll((as) => as.map((a) => a.dataset.nav));
      assert.deepEqual(marked, [nav], `only ${nav} is marked on ${path}`);
    }
    // A run page's breadcrumbs agree with the nav.
    await page.goto(`/runs/${run.id}`);
    await waitRunStatus(page, 'failed');
    assert.equal(await page.locator('nav.crumbs a').first().textContent(), 'Suites');
    assertNoPageErrors(page, assert);
    await page.context().close();
  });

  // No example's words reach a user of another binary: every placeholder is neutral or made
  // of this server's own suites, tests and labels.
  test('placeholders come from the server, not from an example', async () => {
    const page = await openPage(browser, server);
    const suites = (await api.get('/suites')).suites;
    const checkout = suites.find((s) => s.name === 'Checkout');
    const placeholders = async () => page.locator('[placeholder]').evaluateAll((els) => els.map((e) => e.placeholder));
    const example = /storefront|shop|Orders|Healthz/i;

    await page.goto('/');
    const filter = await waitFor(byTestId(page, 'suite-filter'), 'the suite filter');
    await waitFor(page.locator('[data-testid="suite-card"][data-suite="Checkout"]'), 'the Checkout card');
    const labelled = suites.find((s) => Object.keys(s.labels || {}).length);
    const [key, value] = Object.entries(labelled.labels)[0];
    assert.equal(await filter.getAttribute('placeholder'), `Filter: name, namespace, ${key}=${value}`);
    for (const text of await placeholders()) assert.doesNotMatch(text, example, `on /: ${text}`);

    await page.goto('/suites/Checkout');
    await waitFor(byTestId(page, 'run-button'), 'the run button');
    assert.equal(await byTestId(page, 'run-filter').getAttribute('placeholder'),
      `e.g. ${checkout.tests.slice(0, 2).join('|')}`);
    for (const text of await placeholders()) assert.doesNotMatch(text, example, `on /suites/Checkout: ${text}`);

    await page.goto('/schedules');
    const select = byTestId(page, 'schedule-suite');
    await waitFor(select.locator('option[value="Checkout"]'), 'the suites in the form', { state: 'attached' });
    const chosen = await select.inputValue();
    await pollUntil('the name example to follow the suite', async () =>
      (await byTestId(page, 'schedule-name').getAttribute('placeholder')) === `${chosen.toLowerCase()}-nightly`);
    await select.selectOption('Checkout');
    await pollUntil('the name example to follow the chosen suite', async () =>
      (await byTestId(page, 'schedule-name').getAttribute('placeholder')) === 'checkout-nightly');
    for (const text of await placeholders()) assert.doesNotMatch(text, example, `on /schedules: ${text}`);
    assertNoPageErrors(page, assert);
    await page.context().close();
  });

  test('an unknown run shows an error, not a blank page', async () => {
    const page = await openPage(browser, server);
    const res = await page.goto('/runs/999999');
    assert.equal(res.status(), 200, 'the app is served for any run path');
    const error = await waitFor(byTestId(page, 'error-message').first(), 'the error message');
    assert.match(await error.textContent(), /not found|no such|999999/i);
    await page.context().close();
  });

  test('nav links and back/forward restore the right page', async () => {
    const page = await openPage(browser, server);
    await page.goto('/');
    await waitFor(page.locator('[data-testid="suite-card"][data-suite="Checkout"]'), 'the suites page');
    await page.evaluate(() => { window.__sameDocument = true; });

    await byTestId(page, 'nav-flaky').click();
    await page.waitForURL('**/flaky');
    await waitFor(page.locator('[data-testid="flaky-row"][data-test="Flaky"]'), 'the flaky page');
    await byTestId(page, 'nav-schedules').click();
    await page.waitForURL('**/schedules');
    await waitFor(byTestId(page, 'schedule-spec'), 'the schedules page');
    await byTestId(page, 'nav-activity').click();
    await page.waitForURL('**/activity');
    await waitFor(byTestId(page, 'activity-row').first(), 'the activity page');
    assert.equal(await page.evaluate(() => window.__sameDocument), true, 'nav links do not reload the page');

    await page.goBack();
    await page.waitForURL('**/schedules');
    await waitFor(byTestId(page, 'schedule-spec'), 'back: the schedules page');
    await waitFor(byTestId(page, 'activity-row'), 'back: the activity rows are gone', { state: 'detached' });
    await page.goBack();
    await page.waitForURL('**/flaky');
    await waitFor(page.locator('[data-testid="flaky-row"][data-test="Flaky"]'), 'back: the flaky page');
    await page.goBack();
    await page.waitForURL((u) => u.pathname === '/');
    await waitFor(page.locator('[data-testid="suite-card"][data-suite="Checkout"]'), 'back: the suites page');
    await page.goForward();
    await page.waitForURL('**/flaky');
    await waitFor(page.locator('[data-testid="flaky-row"][data-test="Flaky"]'), 'forward: the flaky page');
    await waitFor(page.locator('[data-testid="suite-card"]').first(), 'forward: the suite cards are gone', { state: 'detached' });

    // Into a run and a test, then back to the run.
    await page.goto(`/runs/${run.id}`);
    await waitRunStatus(page, 'failed');
    await page.locator('[data-testid="test-row"][data-test="Payment"]').click();
    await page.waitForURL(`**/runs/${run.id}/tests/Payment`);
    await waitFor(byTestId(page, 'failure').first(), 'the failure of Payment');
    await page.goBack();
    await page.waitForURL((u) => u.pathname === `/runs/${run.id}`);
    await waitRunStatus(page, 'failed');
    await waitFor(page.locator('[data-testid="test-row"][data-test="Payment"]'), 'back: the run page rows');
    assertNoPageErrors(page, assert);
    await page.context().close();
  });

  test('the theme toggle switches light and dark and persists across reloads', async () => {
    const page = await openPage(browser, server, { colorScheme: 'light' });
    await page.goto('/');
    await waitFor(byTestId(page, 'theme-toggle'), 'the theme toggle');
    const light = await waitTheme(page, 'light');

    await byTestId(page, 'theme-toggle').click();
    const dark = await waitTheme(page, 'dark');
    assert.notEqual(dark, light);
    // Where the stylesheet uses custom properties, the theme changes their values.
    const darkVars = await customProperties(page);

    await page.reload();
    await waitFor(byTestId(page, 'theme-toggle'), 'the theme toggle after reload');
    assert.equal(await waitTheme(page, 'dark'), dark, 'dark persists across a reload');

    await byTestId(page, 'theme-toggle').click();
    assert.equal(await waitTheme(page, 'light'), light, 'toggling again brings light back');
    const lightVars = await customProperties(page);
    if (Object.keys(lightVars).length > 0) {
      assert.notDeepEqual(darkVars, lightVars, 'the CSS custom properties differ between the themes');
    }
    await page.reload();
    await waitFor(byTestId(page, 'theme-toggle'), 'the theme toggle after the second reload');
    assert.equal(await waitTheme(page, 'light'), light, 'light persists across a reload');
    assertNoPageErrors(page, assert);
    await page.context().close();
  });
});
