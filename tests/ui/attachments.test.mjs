// Attachments on a test's page: an image shown inline (decoded by the browser), JSON shown
// as text (markup in it never runs), a test's HTML only as a download that, opened, runs no
// script on the UI's origin; every file linked for download as the API lists it.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  assertNoPageErrors, byTestId, launchBrowser, openPage, startServer, waitFor,
} from './helpers.mjs';

describe('attachments', () => {
  let server, browser;

  before(async () => {
    server = await startServer('attachments');
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  test('a test page shows images inline, text as text, and HTML only as a download', async () => {
    const started = await server.api.trigger('Evidence', {});
    const run = await server.api.waitFinished(started.id);
    assert.equal(run.status, 'failed');
    const detail = await server.api.get(`/runs/${run.id}/tests/Screens`);
    const listed = detail.attempts.at(-1).attachments;
    assert.deepEqual(listed.map((a) => [a.name, a.media_type, a.size]), [
      ['screen.png', 'image/png', 73],
      ['response.json', 'application/json', 45],
      ['page.html', 'text/html', 54],
    ]);

    const page = await openPage(browser, server);
    await page.goto(`/runs/${run.id}/tests/Screens`);
    const items = byTestId(page, 'attachment');
    await waitFor(items.nth(2), 'the third attachment');
    assert.equal(await items.count(), 3);

    // The PNG is decoded: an <img> whose natural size is the picture's.
    const img = await waitFor(byTestId(page, 'attachment-image'), 'the screenshot');
    await page.waitForFunction((el) => el.complete && el.naturalWidth > 0, await img.elementHandle());
    assert.deepEqual(await img.evaluate((el) => [el.naturalWidth, el.naturalHeight]), [2, 2]);
    assert.equal(await img.getAttribute('src'), listed[0].url);

    // JSON is previewed as text: its markup is characters, not elements.
    const preview = await waitFor(byTestId(page, 'attachment-preview'), 'the JSON preview');
    await waitFor(preview.getByText('onerror=window.__xss=3', { exact: false }), 'the JSON text');
    assert.equal(await preview.locator('img').count(), 0, 'no <img> made from the JSON');

    // Every file has a download link to its API URL; the HTML has nothing else.
    const links = await byTestId(page, 'attachment-download').evaluateAll(
      (els) => els.map((el) => [el.getAttribute('href'), el.getAttribute('download')]));
    assert.deepEqual(links, listed.map((a) => [a.url, a.name]));
    const html = items.nth(2);
    assert.equal(await html.locator('iframe, img, pre').count(), 0, 'the HTML is not shown');

    // Opened directly, the HTML is a download of bytes (no page), and nothing ran.
    const res = await page.request.get(listed[2].url);
    assert.equal(res.headers()['content-type'], 'application/octet-stream');
    assert.match(res.headers()['content-disposition'], /^attachment;/);
    assert.match(res.headers()['content-security-policy'], /sandbox/);
    assert.equal(res.headers()['x-content-type-options'], 'nosniff');
    assert.equal(await page.evaluate(() => typeof window.__xss), 'undefined', 'no script ran');
    assertNoPageErrors(page, assert);
    await page.context().close();
  });
});
