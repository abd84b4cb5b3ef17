const test = require('node:test');
const assert = require('node:assert');
test('cart', async (t) => {
  await t.test('adds', () => { assert.strictEqual(1 + 1, 2); });
  await t.test('totals', () => { console.log('computing'); assert.strictEqual(3, 4); });
});
test('later', { skip: 'needs a database' }, () => {});
test('known', { todo: 'fix rounding' }, () => { throw new Error('rounding'); });
test('plain', () => {});
