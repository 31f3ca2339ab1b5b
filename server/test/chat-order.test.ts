// ChatOrder: a room's chat batches from several nodes delivered chained on their previous
// seq, whatever order they arrive in; duplicates and batches from before the start dropped;
// a missing predecessor read back from the database after a while.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { FastifyBaseLogger } from 'fastify';
import type { ChatMessage } from '@meet/protocol';
import { ChatOrder, type OrderedBatch, type Sent } from '../src/chat/chat-order.js';

const quiet = { warn: () => undefined } as unknown as FastifyBaseLogger;

function message(seq: number): ChatMessage {
  return {
    id: `m${seq}`,
    seq: String(seq),
    kind: 'text',
    author: { id: 'a', displayName: 'A' },
    recipient: null,
    clientId: `c${seq}`,
    text: `text ${seq}`,
    attachment: null,
    createdAt: new Date(0).toISOString(),
    editedAt: null,
    deletedAt: null,
    mentions: [],
    reactions: [],
    version: 0,
  };
}

/** A batch of the given seqs, following `previous`. */
const batch = (previous: number, ...seqs: number[]): OrderedBatch => ({
  previousSeq: String(previous),
  sent: seqs.map((seq) => ({ message: message(seq), senderId: 'p' })),
});

function order(
  start: number | Promise<string>,
  fill = async (_after: string, _upTo: string) => [] as ChatMessage[],
) {
  const delivered: number[] = [];
  const chat = new ChatOrder({
    start: typeof start === 'number' ? Promise.resolve(String(start)) : start,
    deliver: (sent: Sent[]) => delivered.push(...sent.map((s) => Number(s.message.seq))),
    fill,
    log: quiet,
    gapMs: 50,
  });
  return { chat, delivered };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

test('batches arriving out of order are delivered in seq order', async () => {
  const { chat, delivered } = order(10);
  await tick();
  chat.push(batch(14, 17, 20));
  chat.push(batch(12, 13, 14));
  assert.deepEqual(delivered, [], 'nothing before the batch that follows 10');
  chat.push(batch(10, 11, 12));
  assert.deepEqual(delivered, [11, 12, 13, 14, 17, 20]);
  assert.equal(chat.held, 0);
  chat.close();
});

test('a batch seen twice, or stored before the start, is not delivered again', async () => {
  const { chat, delivered } = order(10);
  await tick();
  chat.push(batch(5, 7, 10));
  chat.push(batch(10, 11));
  chat.push(batch(10, 11));
  assert.deepEqual(delivered, [11]);
  chat.close();
});

test('batches wait until the start is known', async () => {
  let resolve: (seq: string) => void = () => undefined;
  const { chat, delivered } = order(new Promise<string>((r) => (resolve = r)));
  chat.push(batch(3, 4));
  chat.push(batch(4, 6));
  assert.deepEqual(delivered, []);
  resolve('3');
  await tick();
  assert.deepEqual(delivered, [4, 6]);
  chat.close();
});

test('a predecessor that never comes is read back from the database, then the rest follows', async () => {
  const asked: Array<[string, string]> = [];
  const { chat, delivered } = order(10, async (after, upTo) => {
    asked.push([after, upTo]);
    return [message(11), message(12)];
  });
  await tick();
  chat.push(batch(12, 13));
  chat.push(batch(13, 15));
  assert.deepEqual(delivered, []);
  await new Promise((resolve) => setTimeout(resolve, 150));
  assert.deepEqual(asked, [['10', '12']]);
  assert.deepEqual(delivered, [11, 12, 13, 15]);
  // The missing batch arriving late is not delivered a second time.
  chat.push(batch(10, 11, 12));
  assert.deepEqual(delivered, [11, 12, 13, 15]);
  chat.close();
});

test('a failed read is tried again; closing stops waiting', async () => {
  let calls = 0;
  const { chat, delivered } = order(1, async () => {
    calls++;
    if (calls === 1) throw new Error('database away');
    return [message(2)];
  });
  await tick();
  chat.push(batch(2, 3));
  await new Promise((resolve) => setTimeout(resolve, 250));
  assert.ok(calls >= 2, `read tried again (${calls})`);
  assert.deepEqual(delivered, [2, 3]);
  chat.push(batch(5, 6));
  chat.close();
  await new Promise((resolve) => setTimeout(resolve, 150));
  assert.deepEqual(delivered, [2, 3], 'nothing after close');
});
