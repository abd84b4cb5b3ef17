// Notifications in the UI (issue 16): a run's page shows where its notifications went and how
// each delivery went — delivered, and disabled by a receiver that answered 410 — and never a
// destination's secret.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import {
  assertNoPageErrors, byTestId, launchBrowser, makeTempDir, openPage, pollUntil, startServer,
  waitFor,
} from './helpers.mjs';

// A receiver that answers every request with `status` and records the bodies it got.
async function receiver(status) {
  const got = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => { body += c; });
    req.on('end', () => {
      got.push({ url: req.url, headers: req.headers, body });
      res.writeHead(status, { 'Content-Type': 'text/plain' });
      res.end(status === 200 ? 'ok' : 'gone');
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { got, url: `http://127.0.0.1:${server.address().port}`, close: () => server.close() };
}

describe('notifications', () => {
  let server, browser, ok, gone;
  const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';

  before(async () => {
    ok = await receiver(200);
    gone = await receiver(410);
    const dir = makeTempDir('handoff-ui-notify-');
    const secretFile = path.join(dir, 'secret');
    fs.writeFileSync(secretFile, SECRET + '\n');
    const config = path.join(dir, 'notify.json');
    fs.writeFileSync(config, JSON.stringify({ destinations: [
      { name: 'team-hook', plugin: 'webhook', on: 'always', url: ok.url + '/hook?token=hidden-in-query',
        secret_file: secretFile },
      { name: 'old-hook', plugin: 'webhook', on: 'always', url: gone.url + '/old' },
    ] }));
    server = await startServer('notifications', {
      args: ['--notify-config', config, '--external-url', 'https://handoff.example.com'],
    });
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
    ok?.close();
    gone?.close();
  });

  test('a run page lists its deliveries with their states, without secrets', async () => {
    const run = await server.api.trigger('Checkout', { reference: 'ui-notify' });
    await server.api.waitFinished(run.id);
    await pollUntil('both deliveries settle', async () => {
      const res = await fetch(`${server.url}/api/v1/runs/${run.id}/deliveries`);
      const { deliveries } = await res.json();
      return deliveries.length === 2 && deliveries.every((d) => d.state !== 'pending');
    }, { timeout: 15000 });

    const page = await openPage(browser, server);
    await page.goto(`${server.url}/runs/${run.id}`);
    const panel = byTestId(page, 'deliveries');
    await waitFor(panel, 'the notifications panel');
    await waitFor(panel.locator('tr[data-state="delivered"]'), 'the delivered row');
    await waitFor(panel.locator('tr[data-state="disabled"]'), 'the disabled row');
    const text = await panel.innerText();
    assert.match(text, /team-hook/);
    assert.match(text, /old-hook/);
    assert.match(text, /410/);
    assert.doesNotMatch(text, /hidden-in-query/, 'a URL query may hold a token');
    assert.doesNotMatch(await page.content(), /MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw/);

    assert.equal(ok.got.length, 1);
    const body = JSON.parse(ok.got[0].body);
    assert.equal(body.type, 'run.finished');
    assert.equal(body.data.run.url, `https://handoff.example.com/runs/${run.id}`);
    assert.ok(ok.got[0].headers['webhook-signature'].startsWith('v1,'));
    assertNoPageErrors(page, assert);
  });
});
