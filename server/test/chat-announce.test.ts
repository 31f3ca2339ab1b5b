// announceBatch: every participant gets, in one frame, exactly the batch's messages it may see
// (not its own sends, private ones only between the two), the frame being what protoo would
// have sent for that notification; participants with the same selection share one frame.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createRequire } from 'node:module';
import { chatNotifications, type ChatMessage, type NotificationMethod } from '@meet/protocol';
import { announceBatch, type Announced, type Audience } from '../src/chat/chat-announce.js';

const require = createRequire(import.meta.url);
const Message = require('protoo-server/lib/Message.js') as {
  createNotification(method: string, data: unknown): unknown;
};

/** Identities are UUIDs in the protocol: `A` becomes 0000000a-…. */
const uuid = (id: string) => `${id.toLowerCase().padStart(8, '0')}-0000-4000-8000-000000000000`;
const person = (id: string) => ({ id: uuid(id), displayName: `Person ${id} "quoted" \u2028 ü` });

function message(seq: number, author: string, recipient: string | null = null): ChatMessage {
  return {
    id: `00000000-0000-4000-8000-${String(seq).padStart(12, '0')}`,
    seq: String(seq),
    kind: 'text',
    author: person(author),
    recipient: recipient === null ? null : person(recipient),
    clientId: `c${seq}`,
    text: `text ${seq} </script> \\ "\n`,
    attachment: null,
    createdAt: new Date(seq * 1000).toISOString(),
    editedAt: null,
    deletedAt: null,
    mentions: [],
    reactions: [],
    version: 0,
  };
}

class Listener implements Audience {
  readonly frames: Array<{ method: NotificationMethod; frame: string }> = [];
  readonly identity: { id: string };
  constructor(
    readonly id: string,
    identity: string,
  ) {
    this.identity = { id: uuid(identity) };
  }
  notifyFrame(method: NotificationMethod, frame: string): void {
    this.frames.push({ method, frame });
  }
}

test('each participant gets the messages it may see, as protoo would have framed them', () => {
  // Connections a1 and a2 are two tabs of identity A; b1 is B, c1 is C.
  const a1 = new Listener('a1', 'a');
  const a2 = new Listener('a2', 'a');
  const b1 = new Listener('b1', 'b');
  const c1 = new Listener('c1', 'c');
  const batch: Announced[] = [
    { message: message(1, 'a'), senderId: 'a1' },
    { message: message(2, 'b', 'a'), senderId: 'b1' },
    { message: message(3, 'c'), senderId: 'c1' },
  ];
  announceBatch(batch, [a1, a2, b1, c1]);

  const expected = (messages: ChatMessage[]) =>
    messages.length === 1
      ? JSON.stringify(Message.createNotification('chatMessage', { message: messages[0] }))
      : JSON.stringify(Message.createNotification('chatMessages', { messages }));
  const m = batch.map((b) => b.message) as [ChatMessage, ChatMessage, ChatMessage];
  // a1 sent 1: gets B's private message to A and C's public one.
  assert.deepEqual(
    a1.frames.map((f) => f.frame),
    [expected([m[1], m[2]])],
  );
  // a2 (A's other tab) gets all three, its tab's own message included.
  assert.deepEqual(
    a2.frames.map((f) => f.frame),
    [expected([m[0], m[1], m[2]])],
  );
  // b1 sent 2: gets 1 and 3.
  assert.deepEqual(
    b1.frames.map((f) => f.frame),
    [expected([m[0], m[2]])],
  );
  // c1 sent 3 and may not see 2 (between A and B): gets 1 alone, as a chatMessage.
  assert.deepEqual(c1.frames, [{ method: 'chatMessage', frame: expected([m[0]]) }]);

  // Every frame is a valid notification of the protocol.
  for (const { method, frame } of [a1, a2, b1, c1].flatMap((l) => l.frames)) {
    const parsed = JSON.parse(frame) as { notification: true; method: string; data: unknown };
    assert.equal(parsed.notification, true);
    assert.equal(parsed.method, method);
    assert.ok(chatNotifications[method as 'chatMessage' | 'chatMessages'].safeParse(parsed.data).success);
  }
});

test('participants with the same selection share one frame; nobody gets an empty one', () => {
  const listeners = Array.from({ length: 50 }, (_, i) => new Listener(`p${i}`, `${i}`));
  const batch: Announced[] = [
    { message: message(10, '0'), senderId: 'p0' },
    { message: message(11, '1'), senderId: 'p1' },
  ];
  announceBatch(batch, listeners);
  const frames = listeners.flatMap((l) => l.frames.map((f) => f.frame));
  assert.equal(frames.length, 50);
  // p0 gets 11, p1 gets 10, the other 48 get both: three distinct frames in all.
  assert.equal(new Set(frames).size, 3);

  const lone = new Listener('solo', 'f');
  announceBatch([{ message: message(12, 'f'), senderId: 'solo' }], [lone]);
  assert.deepEqual(lone.frames, [], 'its own message alone: no notification');
  announceBatch([], [lone]);
  assert.deepEqual(lone.frames, []);
});
