import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';

const total = (...prices) => prices.reduce((a, b) => a + b, 0);

test('adds', () => {
  console.log('traceparent', process.env.TRACEPARENT, 'param who', process.env.HANDOFF_PARAM_WHO);
  assert.equal(total(100, 250), 350);
});

test('totals', async (t) => {
  await t.test('eur', () => assert.equal(total(100, 200), 300));
  await t.test('usd', () => assert.equal(total(100, 200), 301));
});

test('refund', { skip: 'refunds are not built yet' }, () => {});

test('flaky', (t) => {
  const marker = process.env.EXAMPLE_FLAKY_MARKER;
  if (!marker) return t.skip('set EXAMPLE_FLAKY_MARKER to a path to make this test flaky');
  if (!existsSync(marker + '.js')) {
    writeFileSync(marker + '.js', '');
    assert.fail('first attempt fails');
  }
});

test('hang', async (t) => {
  if (!process.env.EXAMPLE_HANG && !process.env.HANDOFF_PARAM_HANG) {
    return t.skip('set EXAMPLE_HANG=1 (or the param hang) to make this test hang');
  }
  console.log('waiting for a reply that never comes');
  await new Promise((resolve) => setTimeout(resolve, 3600 * 1000));
});
