// Runs in the UI: trigger one and watch it live, read a failed test's output, markup stays
// text, retry the failed tests, cancel a long run, the flaky page.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import {
  assertNoPageErrors, byTestId, fixtureLine, launchBrowser, makeTempDir, openPage,
  runIdFromUrl, startServer, testRow, visibleTestId, waitFor, waitRunStatus,
} from './helpers.mjs';

describe('runs', () => {
  let server, browser, api, gateDir;

  before(async () => {
    gateDir = makeTempDir('handoff-ui-gate-');
    server = await startServer('runs', {
      env: { UI_FIXTURE_GATE_DIR: gateDir },
      // Every attempt links to its trace and its logs (docs/serve.md, Traces and logs).
      args: ['--traces-link-template', 'https://tempo.example.com/trace/{trace_id}',
             '--logs-link-template', 'https://loki.example.com/explore?trace={trace_id}&test={test}'],
    });
    api = server.api;
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  // A finished run of Checkout, started over the API (shared by the tests that only read it).
  let checkout;
  async function checkoutRun() {
    if (!checkout) {
      const run = await api.trigger('Checkout', { reference: 'ui-checkout' });
      checkout = await api.waitFinished(run.id);
      assert.equal(checkout.status, 'failed', 'Checkout/Payment fails, so the run fails');
    }
    return checkout;
  }

  test('trigger a run from the suites page and watch it live', async () => {
    const page = await openPage(browser, server);
    await page.goto('/');
    const card = await waitFor(page.locator('[data-testid="suite-card"][data-suite="Gate"]'), 'the Gate suite card');
    await byTestId(card, 'run-button').click();
    await visibleTestId(page, 'run-filter').fill('Step|Wait|After');
    await visibleTestId(page, 'run-reference').fill('ui-live-1');
    await visibleTestId(page, 'run-submit').click();

    await page.waitForURL(/\/runs\/\d+$/);
    const id = runIdFromUrl(page);
    // Marks this document: if the page reloaded to show progress, the mark would be gone.
    await page.evaluate(() => { window.__sameDocument = true; });

    const created = await api.run(id);
    assert.equal(created.suite, 'Gate');
    assert.equal(created.trigger, 'ui', 'the run form posts trigger "ui"');
    assert.equal(created.reference, 'ui-live-1');
    assert.equal(created.filter, 'Step|Wait|After');
    assert.equal(created.counts.total, 4, 'the filter leaves Gate/Excluded out');

    // While the gate is closed the run is running: the rows and the progress come live.
    await waitRunStatus(page, 'running');
    await waitFor(testRow(page, 'Step1').and(page.locator('[data-status="passed"]')), 'Step1 passed');
    await waitFor(testRow(page, 'Step2').and(page.locator('[data-status="passed"]')), 'Step2 passed');
    await waitFor(testRow(page, 'Wait').and(page.locator('[data-status="running"]')), 'Wait running');
    await waitFor(page.locator('[data-testid="progress-bar"][data-done="2"][data-total="4"]'), 'progress 2 of 4');
    const during = await api.run(id);
    assert.equal(during.status, 'running', 'the run is still running behind the gate');
    assert.equal(await testRow(page, 'Excluded').count(), 0, 'a test the filter left out has no row');
    await waitFor(page.getByText('ui-live-1').first(), 'the reference in the header');

    fs.writeFileSync(path.join(gateDir, 'open'), '');

    await waitRunStatus(page, 'passed', { timeout: 20000 });
    await waitFor(page.locator('[data-testid="progress-bar"][data-done="4"][data-total="4"]'), 'progress 4 of 4');
    await waitFor(testRow(page, 'Wait').and(page.locator('[data-status="passed"]')), 'Wait passed');
    await waitFor(testRow(page, 'After').and(page.locator('[data-status="passed"]')), 'After passed');
    assert.equal(await page.evaluate(() => window.__sameDocument), true, 'the page updated without reloading');
    assert.equal((await api.run(id)).status, 'passed');
    assertNoPageErrors(page, assert);
    await page.context().close();
  });

  test("a failed test's page: ANSI colours, file:line, values, spans, attempts", async () => {
    const run = await checkoutRun();
    const page = await openPage(browser, server);
    await page.goto(`/runs/${run.id}`);
    await waitRunStatus(page, 'failed');
    await waitFor(testRow(page, 'Payment').and(page.locator('[data-status="failed"]')), 'Payment failed');
    await testRow(page, 'Payment').click();
    await page.waitForURL(`**/runs/${run.id}/tests/Payment`);

    const output = await waitFor(byTestId(page, 'output').first(), 'the output');
    // The escapes are rendered, not shown: no ESC and no "[31m" left in the text.
    const text = await output.textContent();
    assert.match(text, /gateway says red then green/);
    assert.ok(!text.includes('\x1b') && !text.includes('[31m') && !text.includes('[0m'), `raw escapes in ${JSON.stringify(text)}`);
    // "red" is in an element of its own whose colour is red, unlike the line around it.
    const red = await waitFor(output.locator('span', { hasText: /^red$/ }).first(), 'a span holding "red"');
    const green = output.locator('span', { hasText: /^green$/ }).first();
    const colours = await red.evaluate((el, g) => {
      const line = el.parentElement;
      return { red: getComputedStyle(el).color, green: getComputedStyle(g).color, line: getComputedStyle(line).color };
    }, await green.elementHandle());
    const [r, gr, b] = colours.red.match(/\d+/g).map(Number);
    assert.ok(r > gr && r > b, `"red" is drawn red: ${colours.red}`);
    const [r2, g2, b2] = colours.green.match(/\d+/g).map(Number);
    assert.ok(g2 > r2 && g2 > b2, `"green" is drawn green: ${colours.green}`);
    assert.notEqual(colours.red, colours.line, 'the coloured span differs from its line');

    // The failure with its file:line, as the API has it.
    const detail = await server.api.get(`/runs/${run.id}/tests/Payment`);
    const failure = detail.attempts.at(-1).failures[0];
    const line = fixtureLine('// ui test: failure line');
    assert.equal(failure.line, line);
    const failureText = await waitFor(byTestId(page, 'failure').first(), 'the failure').then((l) => l.textContent());
    assert.match(failureText, /payment declined: want status 200, got 402/);
    assert.ok(failureText.includes(`ui_fixture.cc:${line}`), `file:line ui_fixture.cc:${line} in ${JSON.stringify(failureText)}`);

    // Values and the span.
    const values = await byTestId(page, 'value-row').allTextContents();
    assert.ok(values.some((v) => v.includes('order_id') && v.includes('A-1042')), `values: ${JSON.stringify(values)}`);
    assert.ok(values.some((v) => v.includes('amount_cents') && v.includes('4200')), `values: ${JSON.stringify(values)}`);
    const span = await waitFor(byTestId(page, 'span-bar').first(), 'a span bar');
    const spanLabel = await span.evaluate((el) => `${el.textContent} ${el.getAttribute('title') ?? ''} ${el.getAttribute('aria-label') ?? ''}`);
    assert.match(spanLabel, /charge card/);

    // Both attempts (Payment fails each time; the suite allows 2).
    await waitFor(page.locator('[data-testid="attempt"][data-attempt="1"]'), 'attempt 1', { state: 'attached' });
    await waitFor(page.locator('[data-testid="attempt"][data-attempt="2"]'), 'attempt 2', { state: 'attached' });

    // Each attempt links to its own trace and logs, as the API has them.
    for (const a of detail.attempts) {
      assert.match(a.trace_id, /^[0-9a-f]{32}$/);
      assert.equal(a.links.traces, `https://tempo.example.com/trace/${a.trace_id}`);
      const section = page.locator(`[data-testid="attempt"][data-attempt="${a.attempt}"]`);
      assert.equal(await byTestId(section, 'traces-link').getAttribute('href'), a.links.traces);
      assert.equal(await byTestId(section, 'logs-link').getAttribute('href'),
                   `https://loki.example.com/explore?trace=${a.trace_id}&test=Payment`);
      assert.equal(await byTestId(section, 'traces-link').textContent(), 'traces');
    }
    assert.notEqual(detail.attempts[0].trace_id, detail.attempts[1].trace_id, 'each attempt is a trace');
    assertNoPageErrors(page, assert);
    await page.context().close();
  });

  test('markup in output, test names and references stays text', async () => {
    const run = await checkoutRun();
    const page = await openPage(browser, server);
    await page.goto(`/runs/${run.id}/tests/Payment`);
    const output = await waitFor(byTestId(page, 'output').first(), 'the output');
    await waitFor(output.getByText('<script>window.__xss=1</script>').first(), 'the script line as text');
    assert.ok((await output.textContent()).includes('<script>window.__xss=1</script>'));
    assert.equal(await output.locator('script').count(), 0, 'no <script> element inside the output');
    assert.equal(await page.evaluate(() => typeof window.__xss), 'undefined', 'the script never ran');

    // A test named with an <img onerror>, in a run whose reference is <b>x</b>.
    const name = 'Name<img src=x onerror=window.__xss=2>';
    const markup = await api.waitFinished((await api.trigger('Markup', { reference: '<b>x</b>' })).id);
    assert.equal(markup.status, 'passed');
    await page.goto(`/runs/${markup.id}`);
    await waitRunStatus(page, 'passed');
    const row = await waitFor(testRow(page, name), 'the row of the markup-named test');
    assert.ok((await row.textContent()).includes(name), 'the name is shown as text');
    await waitFor(page.getByText('<b>x</b>').first(), 'the reference <b>x</b> as text');
    assert.equal(await page.locator('img[src="x"]').count(), 0, 'no <img> made from the name');
    assert.equal(await page.locator('b', { hasText: /^x$/ }).count(), 0, 'no <b> made from the reference');

    await row.click();
    await page.waitForURL(`**/runs/${markup.id}/tests/${encodeURIComponent(name)}`);
    const out = await waitFor(byTestId(page, 'output').first(), 'the markup test output');
    await waitFor(out.getByText('<b>x</b> in a log line'), 'the log line as text');
    assert.equal(await page.locator('img[src="x"]').count(), 0);

    // The suites page shows the Markup suite; its description's <b> stays text if shown.
    await page.goto('/');
    await waitFor(page.locator('[data-testid="suite-card"][data-suite="Markup"]'), 'the Markup suite card');
    assert.equal(await page.locator('b', { hasText: /^markup$/ }).count(), 0, 'no <b> made from the description');
    assert.equal(await page.evaluate(() => typeof window.__xss), 'undefined', 'no markup ran');
    assertNoPageErrors(page, assert);
    await page.context().close();
  });

  test('retry the failed tests from the run page', async () => {
    const run = await checkoutRun();
    const page = await openPage(browser, server);
    await page.goto(`/runs/${run.id}`);
    await waitRunStatus(page, 'failed');
    await byTestId(page, 'retry-button').click();
    await page.waitForURL((u) => /^\/runs\/\d+$/.test(u.pathname) && u.pathname !== `/runs/${run.id}`);
    const retryId = runIdFromUrl(page);

    const retry = await api.waitFinished(retryId);
    assert.equal(retry.retry_of, run.id, 'the new run is a retry of the old one');
    assert.deepEqual(retry.tests.map((t) => t.name), ['Payment'], 'only the failed test runs again');
    await waitRunStatus(page, retry.status);
    await waitFor(testRow(page, 'Payment'), 'the Payment row of the retry');
    assert.equal(await byTestId(page, 'test-row').count(), 1, 'the retry lists one test');
    assertNoPageErrors(page, assert);
    await page.context().close();
  });

  test("filter a run's tests and download its reports", async () => {
    const run = await checkoutRun();
    const page = await openPage(browser, server);
    await page.goto(`/runs/${run.id}`);
    await waitRunStatus(page, 'failed');
    await waitFor(testRow(page, 'Cart'), 'the Cart row');

    await byTestId(page, 'test-filter').fill('Pay');
    await waitFor(testRow(page, 'Cart'), 'Cart filtered out', { state: 'detached' });
    await waitFor(testRow(page, 'Payment'), 'Payment kept by the filter');
    assert.equal(await byTestId(page, 'test-row').count(), 1);
    await byTestId(page, 'test-filter').fill('');
    await waitFor(testRow(page, 'Flaky'), 'every row back without a filter');
    assert.equal(await byTestId(page, 'test-row').count(), 4);

    // The reports, downloaded as a user would: the go test -json stream and JUnit XML.
    const download = async (id) => {
      const [d] = await Promise.all([page.waitForEvent('download'), byTestId(page, id).click()]);
      return fs.readFileSync(await d.path(), 'utf8');
    };
    const json = (await download('report-json')).trim().split('\n').map((l) => JSON.parse(l));
    assert.ok(json.some((e) => /(^|\/)Payment$/.test(e.Test ?? '') && e.Action === 'fail'), 'Payment fails in the JSON report');
    assert.ok(json.some((e) => /(^|\/)Cart$/.test(e.Test ?? '') && e.Action === 'pass'), 'Cart passes in the JSON report');
    const junit = await download('report-junit');
    const payment = junit.match(/<testcase name="Payment"[\s\S]*?<\/testcase>/);
    assert.ok(payment, 'the JUnit report has a Payment testcase');
    assert.match(payment[0], /<failure/);
    assertNoPageErrors(page, assert);
    await page.context().close();
  });

  test('cancel a long run', async () => {
    const page = await openPage(browser, server);
    const { id } = await api.trigger('Slow', { reference: 'ui-cancel' });
    await page.goto(`/runs/${id}`);
    await waitFor(testRow(page, 'Hang').and(page.locator('[data-status="running"]')), 'Hang running', { timeout: 20000 });
    await waitFor(page.locator('[data-testid="progress-bar"][data-done="3"][data-total="6"]'), 'progress 3 of 6');
    await byTestId(page, 'cancel-button').click();

    await waitRunStatus(page, 'cancelled', { timeout: 20000 });
    // The stopped test and those that never started are cancelled (they were failed and
    // skipped before the one result model), and the progress bar counts them as done.
    await waitFor(testRow(page, 'Later1').and(page.locator('[data-status="cancelled"]')), 'Later1 cancelled');
    await waitFor(testRow(page, 'Later2').and(page.locator('[data-status="cancelled"]')), 'Later2 cancelled');
    await waitFor(page.locator('[data-testid="progress-bar"][data-done="6"][data-total="6"]'), 'progress 6 of 6');
    const run = await api.run(id);
    assert.equal(run.status, 'cancelled');
    const byName = Object.fromEntries(run.tests.map((t) => [t.name, t.status]));
    assert.deepEqual(
      [byName.Quick1, byName.Quick2, byName.Quick3, byName.Hang, byName.Later1, byName.Later2],
      ['passed', 'passed', 'passed', 'cancelled', 'cancelled', 'cancelled'],
    );
    assert.equal(run.totals.cancelled, 3);
    assert.equal(run.totals.failed, 0);
    assertNoPageErrors(page, assert);
    await page.context().close();
  });

  // Issue 14: a cancelled run counted its stopped test as a failure in the suite's pass-rate
  // trend (3 of 4 = 75 %). A cancel says nothing about the tests: the run has no point.
  test('a cancelled run has no point in the suite trend', async () => {
    const { id } = await api.trigger('Slow', { reference: 'ui-cancel-trend' });
    await api.waitRun(id, (r) => r.tests.some((t) => t.name === 'Hang' && t.status === 'running'),
      { what: 'Hang to run' });
    await api.post(`/runs/${id}/cancel`);
    assert.equal((await api.waitFinished(id)).status, 'cancelled');
    const page = await openPage(browser, server);
    await page.goto('/suites/Slow');
    await waitFor(page.locator(`svg.trend a[href="/runs/${id}"]`), 'the cancelled run in the trend',
      { state: 'attached' });
    assert.equal(await page.locator('svg.trend circle.pt.st-cancelled').count(), 0,
      'no cancelled run has a pass-rate point');
    assertNoPageErrors(page, assert);
    await page.context().close();
  });

  test('a partial run has no point in the suite trend', async () => {
    const full = await checkoutRun();
    // A run of one passing test: 100 % of what it ran, nothing about the rest.
    const partial = await api.waitFinished((await api.trigger('Checkout', { filter: '^Cart$' })).id);
    assert.equal(partial.status, 'passed');
    assert.equal(partial.partial, true);
    assert.equal(partial.totals.passed, partial.totals.total);
    const page = await openPage(browser, server);
    await page.goto('/suites/Checkout');
    await waitFor(page.locator(`svg.trend circle.pt[data-run="${full.id}"]`), 'the full run\'s point');
    assert.equal(await page.locator(`svg.trend circle.pt[data-run="${partial.id}"]`).count(), 0,
      'the partial run has no pass-rate point');
    assertNoPageErrors(page, assert);
    await page.context().close();
  });

  test('the flaky page lists a test that needed a retry', async () => {
    const run = await checkoutRun();
    assert.equal(run.flaky, true, 'Checkout/Flaky passed on its retry');
    const flaky = await api.get('/flaky?runs=20');
    const entry = flaky.tests.find((t) => t.suite === 'Checkout' && t.test === 'Flaky');
    assert.ok(entry && entry.retried >= 1, `the API lists Checkout/Flaky as retried: ${JSON.stringify(flaky)}`);

    const page = await openPage(browser, server);
    await page.goto('/');
    await byTestId(page, 'nav-flaky').click();
    await page.waitForURL('**/flaky');
    const row = await waitFor(page.locator('[data-testid="flaky-row"][data-test="Flaky"]'), 'the Flaky row');
    assert.match(await row.textContent(), /Checkout/);
    assert.equal(await page.locator('[data-testid="flaky-row"][data-test="Cart"]').count(), 0, 'a test that always passed is not flaky');
    assertNoPageErrors(page, assert);
    await page.context().close();
  });
});
