// The browser and a server's security: a page of another origin can neither start nor read
// a run (a form posted from another origin used to start runs), and with tokens the UI logs
// in, acts, and logs out.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { once } from 'node:events';
import {
  ApiError, assertNoPageErrors, byTestId, launchBrowser, openPage, pollUntil, startServer, waitFor,
} from './helpers.mjs';

// A page of another origin that tries everything a hostile page can against `target`: a form
// posted to it (text/plain, shaped as JSON), fetches with and without CORS, and a read of the
// runs. It reports what it could see in window.attack.
function evilPage(target) {
  return `<!doctype html><html><body>
<iframe name="sink1" style="display:none"></iframe>
<iframe name="sink2" style="display:none"></iframe>
<form id="f" method="POST" action="${target}/api/v1/suites/Checkout/runs" enctype="text/plain" target="sink1">
  <input name='{"filter":"' value='x"}'>
</form>
<form id="g" method="POST" action="${target}/api/v1/suites/Checkout/runs" target="sink2">
  <input name="filter" value="x">
</form>
<script>
window.attack = (async () => {
  const out = {};
  document.getElementById('f').submit();
  document.getElementById('g').submit();
  try {
    await fetch('${target}/api/v1/suites/Checkout/runs', {method: 'POST', mode: 'no-cors',
      headers: {'Content-Type': 'text/plain'}, body: '{}', credentials: 'include'});
    out.noCors = 'sent';
  } catch (e) { out.noCors = 'error'; }
  try {
    const r = await fetch('${target}/api/v1/suites/Checkout/runs', {method: 'POST',
      headers: {'Content-Type': 'application/json'}, body: '{}', credentials: 'include'});
    out.cors = 'read ' + r.status;
  } catch (e) { out.cors = 'blocked'; }
  try {
    const r = await fetch('${target}/api/v1/runs', {credentials: 'include'});
    out.read = 'read ' + (await r.text());
  } catch (e) { out.read = 'blocked'; }
  return out;
})();
</script></body></html>`;
}

async function startEvilSite(target) {
  const site = http.createServer((req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/html' });
    res.end(evilPage(target));
  });
  site.listen(0, '127.0.0.1');
  await once(site, 'listening');
  return site;
}

describe('security', () => {
  let browser;

  before(async () => {
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
  });

  for (const withAuth of [false, true]) {
    test(`a page of another origin can neither start nor read a run (${withAuth ? 'logged in' : 'no authentication'})`, async () => {
      const token = 'ui-admin-token-0123456789abcdef';
      const server = await startServer(`security-evil-${withAuth}`, withAuth ? { env: { HANDOFF_AUTH_TOKEN: token }, token } : {});
      const site = await startEvilSite(server.url);
      try {
        const page = await openPage(browser, server);
        if (withAuth) {
          // The victim is logged in to the UI in this browser.
          await page.goto('/');
          await byTestId(page, 'login-token').fill(token);
          await byTestId(page, 'login-submit').click();
          await waitFor(byTestId(page, 'session-user'), 'the signed-in user');
        }
        await server.api.trigger('Checkout');  // something to read
        const before = (await server.api.get('/runs')).runs.length;
        // "localhost" is another site than the server's 127.0.0.1 (cookies, Sec-Fetch-Site).
        const evil = await page.context().newPage();
        await evil.goto(`http://localhost:${site.address().port}/`);
        const seen = await evil.evaluate(() => window.attack);
        assert.equal(seen.cors, 'blocked', 'a cross-origin fetch must not read the answer');
        assert.equal(seen.read, 'blocked', 'a cross-origin page must not read the runs');
        // The forms and the no-cors fetch reached the server: wait until it answered them
        // (its log records each refused state-changing request), then count runs.
        const fs = await import('node:fs');
        await pollUntil('the server to log the three refused attempts', () =>
          (fs.readFileSync(server.logFile, 'utf8').match(/api request refused/g) || []).length >= 3);
        const runs = (await server.api.get('/runs')).runs;
        assert.equal(runs.length, before, `no run may start: ${JSON.stringify(runs.map((r) => r.id))}`);
        assertNoPageErrors(page, assert);
      } finally {
        site.close();
        await server.stop();
      }
    });
  }

  test('with tokens the UI logs in, acts as its user, and logs out', async () => {
    const token = 'ui-run-token-0123456789abcdef';
    const server = await startServer('security-login', { env: { HANDOFF_AUTH_TOKEN: token }, token });
    try {
      const page = await openPage(browser, server);
      await page.goto('/suites/Checkout');
      await waitFor(byTestId(page, 'login-form'), 'the log-in form');
      await byTestId(page, 'login-token').fill('not-the-token');
      await byTestId(page, 'login-submit').click();
      await waitFor(byTestId(page, 'login-error'), 'the refusal');
      assert.match(await byTestId(page, 'login-error').textContent(), /not valid/);

      await byTestId(page, 'login-token').fill(token);
      await byTestId(page, 'login-submit').click();
      await waitFor(byTestId(page, 'session-user'), 'the signed-in user');
      assert.match(await byTestId(page, 'session-user').textContent(), /admin/);
      // The cookie is the server's: HttpOnly, SameSite=Strict, invisible to the page.
      const cookies = await page.context().cookies();
      const session = cookies.find((c) => c.name === 'handoff_session');
      assert.ok(session, 'a session cookie');
      assert.equal(session.httpOnly, true);
      assert.equal(session.sameSite, 'Strict');
      assert.equal(await page.evaluate(() => document.cookie.includes('handoff_session')), false);

      // The page the user asked for, and its actions, work: start a run from the UI.
      await waitFor(byTestId(page, 'run-button'), 'the Run button');
      await byTestId(page, 'run-button').click();
      await byTestId(page, 'run-submit').click();
      const run = await pollUntil('the UI to start a run', async () => (await server.api.get('/runs')).runs[0]);
      assert.equal(run.initiated_by, 'admin');

      await byTestId(page, 'logout').click();
      await waitFor(byTestId(page, 'login-form'), 'the log-in form after logging out');
      assert.equal((await page.context().cookies()).some((c) => c.name === 'handoff_session'), false);
      await assert.rejects(() => fetch(`${server.url}/api/v1/runs`).then((r) => {
        if (r.status !== 401) throw new Error(`expected 401, got ${r.status}`);
        throw new ApiError(401, null, 'GET /runs without a token');
      }), ApiError);
      assertNoPageErrors(page, assert);
    } finally {
      await server.stop();
    }
  });
});
