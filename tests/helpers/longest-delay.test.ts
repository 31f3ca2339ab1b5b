// The freeze measure of watchFrames: the longest inter-frame delay bounded from the sums
// the browser keeps (inbound-rtp totalInterFrameDelay and totalSquaredInterFrameDelay).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { longestDelayMs } from './media.js';

const sums = (delays: number[]) =>
  [delays.length, delays.reduce((a, d) => a + d, 0), delays.reduce((a, d) => a + d * d, 0)] as const;

test('even frames read late are no freeze; one long gap among them is found exactly', () => {
  // 24 frames at 10 fps, read in one sample 2.4 s after the last (a slow getStats).
  const even = longestDelayMs(...sums(Array<number>(24).fill(0.1)));
  assert.ok(Math.abs(even - 100) < 1, `${even}`);
  // The same frames with a 2.5 s freeze among them.
  const frozen = longestDelayMs(...sums([...Array<number>(23).fill(0.1), 2.5]));
  assert.ok(Math.abs(frozen - 2500) < 1, `${frozen}`);
});

test('never below the longest delay, whatever the frames', () => {
  for (let round = 0; round < 1000; round++) {
    const delays = Array.from({ length: 1 + Math.floor(Math.random() * 40) }, () => Math.random() * 3);
    const bound = longestDelayMs(...sums(delays));
    assert.ok(bound >= Math.max(...delays) * 1000 - 1e-6, JSON.stringify({ delays, bound }));
  }
});

test('counting more frames than the delays summed only loosens the bound', () => {
  const [, sum, squares] = sums([0.1, 0.1, 0.1, 1.5]);
  assert.ok(longestDelayMs(6, sum, squares) >= longestDelayMs(4, sum, squares));
  assert.ok(longestDelayMs(6, sum, squares) >= 1500);
});
