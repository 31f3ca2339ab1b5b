// Keeps the chat benchmarks (bench/chat-fanout.ts, bench/chat-history.ts) from rotting: runs
// both with small parameters on the embedded database and asserts only their correctness
// checks (every message delivered once and in order; history pages contiguous and complete),
// never their timings.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { defaultScenarios, runFanout, type Scenario } from '../../bench/chat-fanout.js';
import { runHistory } from '../../bench/chat-history.js';

test('chat fan-out bench: small scenarios, every message delivered once and in order', async (t) => {
  const scenarios: Scenario[] = [
    { ...defaultScenarios.sequential, peersPerRoom: 5, messages: 20 },
    { ...defaultScenarios['one-room'], peersPerRoom: 5, sendersPerRoom: 5, messages: 60 },
    { ...defaultScenarios['many-rooms'], rooms: 3, peersPerRoom: 4, sendersPerRoom: 4, messages: 60 },
  ];
  const result = await runFanout({
    databases: ['embedded'],
    scenarios,
    out: null,
    log: (line) => t.diagnostic(line),
  });
  assert.deepEqual(
    result.rows.map((row) => row.scenario),
    ['sequential', 'one-room', 'many-rooms'],
  );
  for (const row of result.rows) {
    assert.deepEqual(
      row.checks,
      {
        sendErrors: 0,
        ackMismatches: 0,
        ackedNotStored: 0,
        missing: 0,
        duplicates: 0,
        outOfOrder: 0,
        selfDeliveries: 0,
        unexpected: 0,
        senderOrder: 0,
        receiversOffStorage: 0,
      },
      `${row.scenario}: ${row.failures.join(', ')}`,
    );
    assert.equal(
      row.storedInDatabase,
      60 - (row.scenario === 'sequential' ? 40 : 0),
      `${row.scenario}: rows stored`,
    );
    assert.equal(row.ok, true);
  }
  assert.deepEqual(
    result.rows.map((row) => [row.senders, row.receiversPerMessage]),
    [
      [1, 4],
      [5, 4],
      [12, 3],
    ],
  );
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
