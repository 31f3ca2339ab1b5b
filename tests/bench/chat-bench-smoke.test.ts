// Keeps the chat benchmarks (bench/chat-fanout.ts, bench/chat-history.ts) from rotting: runs
// both with small parameters on the embedded database and asserts only their correctness
// checks (every message delivered once and in order; history pages contiguous and complete),
// never their timings.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runFanout } from '../../bench/chat-fanout.js';
import { runHistory } from '../../bench/chat-history.js';

test('chat fan-out bench: 5 peers, 20 messages, every message delivered once and in order', async (t) => {
  const result = await runFanout({
    messages: 20,
    peers: 5,
    databases: ['embedded'],
    out: null,
    log: (line) => t.diagnostic(line),
  });
  assert.deepEqual(
    result.rows.map((row) => row.mode),
    ['sequential', 'concurrent'],
  );
  for (const row of result.rows) {
    assert.equal(row.messages, 20);
    assert.equal(row.receiversPerMessage, 4);
    assert.deepEqual(
      row.checks,
      {
        sendErrors: 0,
        ackMismatches: 0,
        missing: 0,
        duplicates: 0,
        outOfOrderPerSender: 0,
        selfDeliveries: 0,
        unexpected: 0,
      },
      `${row.mode}: ${row.failures.join(', ')}`,
    );
    assert.equal(row.storedInDatabase, 20, `${row.mode}: rows stored`);
    assert.equal(row.ok, true);
  }
  assert.equal(result.rows[1]?.senders, 5, 'the concurrent mode has as many senders as peers (at most 10)');
});

test('chat history bench: 2,000 messages, pages contiguous and complete', async (t) => {
  const result = await runHistory({
    messages: 2000,
    databases: ['embedded'],
    repeats: 2,
    randomPages: 5,
    out: null,
    log: (line) => t.diagnostic(line),
  });
  const run = result.runs[0];
  assert.ok(run);
  // 1% private: 20 messages, 10 of them to the reader and 10 between two others.
  assert.deepEqual(run.checks, {
    pages: 40,
    expectedVisible: 1990,
    seen: 1990,
    missing: 0,
    duplicates: 0,
    unexpected: 0,
    notDescending: 0,
    shortPages: 0,
    wrongHasMore: 0,
    repeatMismatches: 0,
  });
  assert.equal(run.ok, true, run.failures.join(', '));
  assert.deepEqual(
    run.timings.map((timing) => timing.page),
    ['first', 'depth 10', 'last (depth 40)', '5 random deep (depth 20–40)', 'full walk, all 40 pages'],
  );
  assert.ok(run.explain.plan.length > 0, 'the plan of the history query is shown');
});
