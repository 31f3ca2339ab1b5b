// The room chat's batcher on its own (server/src/chat/send-batcher.ts): what arrives while a
// batch commits forms the next one, within the count and byte limits; one batch commits at a
// time, in arrival order; a failed commit fails its batch only; past the queue's bounds a send
// is refused at once with 429 and a reason. The commit here is the test's own function, so that
// each step is under the test's control; the database side is in chat*.integration.test.ts.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { SendBatcher, type BatchLimits } from '../src/chat/send-batcher.js';
import { SignalingError } from '../src/signaling/errors.js';

interface Commit {
  items: string[];
  finish(): void;
  fail(error: Error): void;
}

/** A batcher whose commits wait until the test finishes (or fails) them. */
function controlled(limits: BatchLimits) {
  const commits: Commit[] = [];
  let waiting: (() => void) | undefined;
  const batcher = new SendBatcher<string, string>(
    (items) =>
      new Promise<string[]>((resolve, reject) => {
        commits.push({
          items,
          finish: () => resolve(items.map((item) => `stored ${item}`)),
          fail: reject,
        });
        waiting?.();
      }),
    (item) => Buffer.byteLength(item),
    limits,
  );
  let handedOut = 0;
  /** The batcher's next commit (started already, or when it starts). */
  const nextCommit = async (): Promise<Commit> => {
    while (commits.length === handedOut) await new Promise<void>((resolve) => (waiting = resolve));
    return commits[handedOut++] as Commit;
  };
  return { batcher, commits, nextCommit };
}

const roomy: BatchLimits = {
  batchMessages: 256,
  batchBytes: 1 << 20,
  queuedMessages: 1024,
  queuedBytes: 1 << 22,
};

describe('SendBatcher', () => {
  test("a sender's next send, made once its previous one is acknowledged, joins the next batch", async () => {
    // As a participant does: its requests run one at a time, so its next chatSend reaches the
    // batcher a few microtasks after the previous one's ack. It must join the batch with what
    // waited meanwhile (c), not the one after (the room's senders would split into two
    // cohorts, every batch half the size).
    const { batcher, nextCommit } = controlled(roomy);
    const afterAck = (sent: Promise<string>, next: string) =>
      sent.then(async () => {
        for (let i = 0; i < 5; i++) await Promise.resolve();
        return batcher.submit(next);
      });
    const a = afterAck(batcher.submit('a1'), 'a2');
    const b = afterAck(batcher.submit('b1'), 'b2');
    const commit1 = await nextCommit();
    assert.deepEqual(commit1.items, ['a1', 'b1']);
    const c = batcher.submit('c1');
    commit1.finish();
    const commit2 = await nextCommit();
    assert.deepEqual(commit2.items, ['c1', 'a2', 'b2']);
    commit2.finish();
    assert.deepEqual(await Promise.all([a, b, c]), ['stored a2', 'stored b2', 'stored c1']);
  });

  test('sends of one turn form one batch; those arriving during its commit form the next, in order', async () => {
    const { batcher, nextCommit } = controlled(roomy);
    const first = ['a', 'b', 'c'].map((item) => batcher.submit(item));
    const commit1 = await nextCommit();
    assert.deepEqual(commit1.items, ['a', 'b', 'c']);
    const second = ['d', 'e'].map((item) => batcher.submit(item));
    assert.equal(batcher.queued, 2);
    assert.equal(batcher.committing, 3);
    let settled = false;
    void Promise.all(second).then(() => (settled = true));
    commit1.finish();
    assert.deepEqual(await Promise.all(first), ['stored a', 'stored b', 'stored c']);
    const commit2 = await nextCommit();
    assert.deepEqual(commit2.items, ['d', 'e']);
    assert.equal(settled, false, 'not acknowledged before its own commit');
    commit2.finish();
    assert.deepEqual(await Promise.all(second), ['stored d', 'stored e']);
    assert.equal(batcher.committing, 0);
  });

  test('a batch holds at most batchMessages sends and batchBytes bytes (a larger send goes alone)', async () => {
    const { batcher, nextCommit } = controlled({ ...roomy, batchMessages: 3, batchBytes: 10 });
    const items = ['1', '2', '3', '4', '5', 'xxxxxxxxx', 'yyyyyyyyyyyyyyyy', 'z'];
    const sent = items.map((item) => batcher.submit(item));
    const batches: string[][] = [];
    while (batches.flat().length < items.length) {
      const commit = await nextCommit();
      batches.push(commit.items);
      commit.finish();
    }
    assert.deepEqual(batches, [['1', '2', '3'], ['4', '5'], ['xxxxxxxxx'], ['yyyyyyyyyyyyyyyy'], ['z']]);
    assert.equal((await Promise.all(sent)).length, items.length);
  });

  test('a failed commit rejects every send of its batch and none of the next', async () => {
    const { batcher, nextCommit } = controlled(roomy);
    const doomed = ['a', 'b'].map((item) => batcher.submit(item));
    const commit1 = await nextCommit();
    const next = batcher.submit('c');
    commit1.fail(new SignalingError(503, 'not stored'));
    for (const send of doomed) await assert.rejects(send, /not stored/);
    const commit2 = await nextCommit();
    assert.deepEqual(commit2.items, ['c']);
    commit2.finish();
    assert.equal(await next, 'stored c');
  });

  test('past queuedMessages or queuedBytes waiting, a send is refused with 429 and a reason', async () => {
    for (const limits of [
      { queuedMessages: 2, queuedBytes: 100, refused: 'ccc' },
      { queuedMessages: 10, queuedBytes: 8, refused: 'dddd' },
    ]) {
      const { batcher, nextCommit } = controlled({ ...roomy, ...limits });
      const inFlight = batcher.submit('first');
      const commit = await nextCommit();
      // Waiting: 'aaa' and 'bbb' (2 sends, 6 bytes); 'cc' fits 8 bytes but not 2 sends.
      const waiting = [batcher.submit('aaa'), batcher.submit('bbb')];
      if (limits.queuedBytes === 8) waiting.push(batcher.submit('cc'));
      await assert.rejects(batcher.submit(limits.refused), (error: SignalingError) => {
        assert.equal(error.code, 429);
        assert.match(error.message, /messages waiting to be stored \(at most \d+, \d+ KiB\): send again/);
        return true;
      });
      assert.equal(batcher.queued, waiting.length, 'the refused send is not queued');
      commit.finish();
      assert.equal(await inFlight, 'stored first');
      const commit2 = await nextCommit();
      assert.deepEqual(commit2.items, limits.queuedBytes === 8 ? ['aaa', 'bbb', 'cc'] : ['aaa', 'bbb']);
      // Once the queue drained into a batch, sends are taken again.
      const later = batcher.submit(limits.refused);
      commit2.finish();
      await Promise.all(waiting);
      (await nextCommit()).finish();
      assert.equal(await later, `stored ${limits.refused}`);
    }
  });
});
