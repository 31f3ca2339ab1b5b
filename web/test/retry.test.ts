// Which failed requests the page asks again (a join, a consume): those that got no answer and
// the server's own failures (5xx). A refusal (4xx) is final, and so is a failure in the page
// itself (e.g. a browser that cannot load the room's codecs): asking again cannot help.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { NoAnswerError, retryable } from '../src/lib/call/retry.js';

const answered = (code: number) => Object.assign(new Error(`answered ${code}`), { code });

test('no answer (timed out, socket gone) and a server failure are asked again', () => {
  const timedOut = new NoAnswerError('join', new Error('request timeout'));
  assert.equal(timedOut.message, 'request timeout', "protoo's reason is kept for the person");
  assert.equal(retryable(timedOut), true);
  assert.equal(retryable(new NoAnswerError('consume', undefined)), true);
  assert.equal(retryable(answered(500)), true);
  assert.equal(retryable(answered(503)), true);
});

test('a refusal and a failure in the page are final', () => {
  assert.equal(retryable(answered(400)), false);
  assert.equal(retryable(answered(409)), false);
  assert.equal(retryable(answered(429)), false);
  assert.equal(
    retryable(Object.assign(new Error('device not supported'), { name: 'UnsupportedError' })),
    false,
  );
  assert.equal(retryable(undefined), false);
});
