// Chat sends stored in batches (server/src/chat/room-chat.ts), over the real signaling socket,
// against both databases: concurrent senders of one room are acknowledged only for what is
// stored, the room's messages have one seq order, in the database and for every receiver, each
// received once; a batch whose transaction fails (made to fail for real, by a trigger) is
// acknowledged to nobody and stored not at all, while the next batch and other rooms carry on;
// rooms commit independently (PostgreSQL: one room's commit held by a row lock while another
// room's are stored).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { ChatMessage } from '@meet/protocol';
import type { Room } from '../src/room/room.js';
import { startServer, type TestServer } from '../../tests/helpers/server.js';
import { RawPeer, waitUntil, type ProtooResponse } from './support/raw-peer.js';

/** The chat messages a peer received, in arrival order, and the notifications that carried them. */
function received(peer: RawPeer): { messages: ChatMessage[]; batches: number } {
  const messages: ChatMessage[] = [];
  let batches = 0;
  for (const n of peer.notifications()) {
    if (n.method === 'chatMessage') messages.push((n.data as { message: ChatMessage }).message);
    if (n.method === 'chatMessages') {
      batches++;
      messages.push(...(n.data as { messages: ChatMessage[] }).messages);
    }
  }
  return { messages, batches };
}

const texts = (peer: RawPeer) => received(peer).messages.map((m) => m.text);

for (const database of ['embedded', 'postgres'] as const) {
  describe(`chat batches (${database})`, () => {
    let server: TestServer;
    before(async () => {
      server = await startServer({ CHAT_RATE: '1000', CHAT_BURST: '1000' }, { database });
    });
    after(async () => {
      await server?.close();
    });

    const prisma = () => server.app.database.prisma;
    async function joinAs(roomId: string, name: string): Promise<RawPeer> {
      const peer = await RawPeer.connect(server, roomId, name);
      const rtpCapabilities = await peer.ok('getRouterRtpCapabilities', {});
      await peer.ok('join', { displayName: name, rtpCapabilities });
      return peer;
    }
    async function roomOf(roomId: string): Promise<Room> {
      const room = (await server.app.rooms.list()).find((r) => r.id === roomId);
      assert.ok(room, `room ${roomId} is open`);
      return room;
    }
    const stored = (roomId: string) =>
      prisma().message.findMany({
        where: { roomId },
        orderBy: { seq: 'asc' },
        select: { id: true, seq: true, text: true, clientId: true, authorId: true },
      });

    /**
     * Runs `during` while every chat commit waits: the messages table is locked (EXCLUSIVE:
     * reads go on, inserts wait) in a transaction that holds one of the pool's connections
     * (the embedded database's only one, so there its commits wait for the connection).
     */
    async function withCommitsHeld(during: () => Promise<void>): Promise<void> {
      await prisma().$transaction(
        async (tx) => {
          await tx.$executeRawUnsafe('LOCK TABLE "messages" IN EXCLUSIVE MODE');
          await during();
        },
        { maxWait: 10_000, timeout: 60_000 },
      );
    }

    /** Makes an INSERT of a message with this text fail (a real error raised by the database). */
    async function poison(text: string): Promise<() => Promise<void>> {
      const name = `poison_${Math.random().toString(36).slice(2, 10)}`;
      await prisma().$executeRawUnsafe(`
        CREATE FUNCTION ${name}() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN RAISE EXCEPTION 'message refused by the test trigger'; END $$`);
      await prisma().$executeRawUnsafe(`
        CREATE TRIGGER ${name} BEFORE INSERT ON "messages" FOR EACH ROW
        WHEN (NEW."text" = '${text}') EXECUTE FUNCTION ${name}()`);
      return async () => {
        await prisma().$executeRawUnsafe(`DROP TRIGGER ${name} ON "messages"`);
        await prisma().$executeRawUnsafe(`DROP FUNCTION ${name}()`);
      };
    }

    test('concurrent senders: acks only for stored messages; one seq order, in storage and for every receiver, each message once', async () => {
      const roomId = `batch-order-${database}`;
      const senders = 8;
      const perSender = 30;
      const peers: RawPeer[] = [];
      for (let s = 0; s < senders; s++) peers.push(await joinAs(roomId, `Sender ${s}`));
      const listener = await joinAs(roomId, 'Listener');

      // Every sender sends all its messages at once (the server runs each one's in order).
      const responses = await Promise.all(
        peers.map((peer, s) =>
          Promise.all(
            Array.from({ length: perSender }, (_, i) =>
              peer.request('chatSend', {
                clientId: `order-${s}-${String(i).padStart(3, '0')}`,
                text: `${s}/${i}`,
              }),
            ),
          ),
        ),
      );
      const acks = responses.flat().map((response: ProtooResponse) => {
        assert.equal(response.ok, true, `${String(response.errorCode)} ${String(response.errorReason)}`);
        return (response.data as { message: ChatMessage }).message;
      });

      const rows = await stored(roomId);
      assert.equal(rows.length, senders * perSender);
      const seqs = rows.map((row) => row.seq);
      assert.ok(
        seqs.every((seq, i) => i === 0 || seq > (seqs[i - 1] as bigint)),
        'seq strictly increasing',
      );
      const rowById = new Map(rows.map((row) => [row.id, row]));
      for (const ack of acks) {
        const row = rowById.get(ack.id);
        assert.ok(row, `acknowledged message ${ack.clientId} is stored`);
        assert.equal(row.seq.toString(), ack.seq);
        assert.equal(row.text, ack.text);
      }
      for (let s = 0; s < senders; s++) {
        const mine = rows.filter((row) => row.text.startsWith(`${s}/`)).map((row) => row.text);
        assert.deepEqual(
          mine,
          Array.from({ length: perSender }, (_, i) => `${s}/${i}`),
          `sender ${s}: stored in the order sent`,
        );
      }

      // Every receiver: exactly the room's stored messages but its own, in seq order.
      for (const [k, peer] of [...peers, listener].entries()) {
        const expected = rows
          .filter((row) => !(k < senders && row.text.startsWith(`${k}/`)))
          .map((r) => r.id);
        await waitUntil(
          `receiver ${k} to get ${expected.length} messages`,
          () => received(peer).messages.length >= expected.length,
        );
        assert.deepEqual(
          received(peer).messages.map((m) => m.id),
          expected,
          `receiver ${k}: every message once, in seq order, none of its own`,
        );
      }
      // Messages sent at the same time went out together.
      assert.ok(received(listener).batches > 0, 'some notifications carried several messages');
      for (const peer of [...peers, listener]) await peer.close();
    });

    test('a batch whose transaction fails is acknowledged to nobody and stored not at all; the next batch is', async () => {
      const roomId = `batch-fail-${database}`;
      const [ann, ben, cid, dee, eve] = await Promise.all(
        ['Ann', 'Ben', 'Cid', 'Dee', 'Eve'].map((name) => joinAs(roomId, name)),
      );
      assert.ok(ann && ben && cid && dee && eve);
      const room = await roomOf(roomId);
      const cure = await poison(`poison ${database}`);
      try {
        let first: Promise<ProtooResponse> | undefined;
        let doomed: Array<Promise<ProtooResponse>> = [];
        await withCommitsHeld(async () => {
          first = ann.request('chatSend', { clientId: 'fail-first', text: 'first' });
          await waitUntil('the first batch to be committing', () => room.chat.committing === 1);
          // These three wait for the next batch, which carries the poisoned one.
          doomed = [
            ben.request('chatSend', { clientId: 'fail-ben', text: 'from Ben' }),
            cid.request('chatSend', { clientId: 'fail-cid', text: `poison ${database}` }),
            dee.request('chatSend', { clientId: 'fail-dee', text: 'from Dee' }),
          ];
          await waitUntil('three sends queued behind it', () => room.chat.queued === 3);
        });
        const firstResponse = await (first as Promise<ProtooResponse>);
        assert.equal(firstResponse.ok, true, 'the batch before is stored and acknowledged');
        for (const response of await Promise.all(doomed)) {
          assert.equal(response.ok, undefined);
          assert.equal(response.errorCode, 503);
          assert.match(String(response.errorReason), /not stored .*batch of 3.*send it again/);
        }
        assert.deepEqual(
          (await stored(roomId)).map((row) => row.text),
          ['first'],
        );
        // Ben sends again (same client id): stored now; Eve hears of it once, after 'first'.
        const again = await ben.ok<{ message: ChatMessage }>('chatSend', {
          clientId: 'fail-ben',
          text: 'from Ben',
        });
        assert.equal(again.message.text, 'from Ben');
        await waitUntil('Eve to get the retry', () => texts(eve).includes('from Ben'));
        assert.deepEqual(texts(eve), ['first', 'from Ben']);
        assert.deepEqual(
          (await stored(roomId)).map((row) => row.text),
          ['first', 'from Ben'],
        );
      } finally {
        await cure();
        for (const peer of [ann, ben, cid, dee, eve]) await peer.close();
      }
    });

    test("a failing batch in one room fails neither the room's next batch nor another room's", async () => {
      const [xa, xb, xEar] = await Promise.all(
        ['Xa', 'Xb', 'Xear'].map((n) => joinAs(`batch-x-${database}`, n)),
      );
      const [ya, yb, yEar] = await Promise.all(
        ['Ya', 'Yb', 'Year'].map((n) => joinAs(`batch-y-${database}`, n)),
      );
      assert.ok(xa && xb && xEar && ya && yb && yEar);
      const [roomX, roomY] = await Promise.all([
        roomOf(`batch-x-${database}`),
        roomOf(`batch-y-${database}`),
      ]);
      const cure = await poison(`x poison ${database}`);
      try {
        const sends: Array<Promise<ProtooResponse>> = [];
        await withCommitsHeld(async () => {
          sends.push(xa.request('chatSend', { clientId: 'x-poison-1', text: `x poison ${database}` }));
          await waitUntil('X committing', () => roomX.chat.committing === 1);
          sends.push(ya.request('chatSend', { clientId: 'y-first-1', text: 'y first' }));
          await waitUntil('Y committing', () => roomY.chat.committing === 1);
          sends.push(xb.request('chatSend', { clientId: 'x-after-1', text: 'x after' }));
          sends.push(yb.request('chatSend', { clientId: 'y-second-1', text: 'y second' }));
          await waitUntil(
            'one send queued in each room',
            () => roomX.chat.queued === 1 && roomY.chat.queued === 1,
          );
        });
        const [xPoison, yFirst, xAfter, ySecond] = await Promise.all(sends);
        assert.equal(xPoison?.errorCode, 503);
        assert.match(String(xPoison?.errorReason), /not stored/);
        for (const response of [yFirst, xAfter, ySecond]) assert.equal(response?.ok, true);
        await waitUntil('both ears to hear', () => texts(xEar).length === 1 && texts(yEar).length === 2);
        assert.deepEqual(texts(xEar), ['x after']);
        assert.deepEqual(texts(yEar), ['y first', 'y second']);
      } finally {
        await cure();
        for (const peer of [xa, xb, xEar, ya, yb, yEar]) await peer.close();
      }
    });

    if (database === 'postgres')
      test("rooms commit in parallel: one room's held commit does not hold another's", async () => {
        const [held, heldEar] = await Promise.all(['H', 'Hear'].map((n) => joinAs('batch-held', n)));
        const [free, freeEar] = await Promise.all(['F', 'Fear'].map((n) => joinAs('batch-free', n)));
        assert.ok(held && heldEar && free && freeEar);
        const heldRoom = await roomOf('batch-held');
        let heldSend: Promise<ProtooResponse> | undefined;
        // A message's foreign key to its room takes a KEY SHARE lock on the room's row: while
        // the test holds that row FOR UPDATE, only this room's inserts wait.
        await prisma().$transaction(
          async (tx) => {
            await tx.$queryRawUnsafe(`SELECT "id" FROM "rooms" WHERE "id" = 'batch-held' FOR UPDATE`);
            heldSend = held.request('chatSend', { clientId: 'held-0001', text: 'held' });
            await waitUntil('the held room to be committing', () => heldRoom.chat.committing === 1);
            for (let i = 0; i < 5; i++)
              await free.ok('chatSend', {
                clientId: `free-${String(i).padStart(4, '0')}`,
                text: `free ${i}`,
              });
            await waitUntil('the free room delivered', () => texts(freeEar).length === 5);
            assert.equal(heldRoom.chat.committing, 1, 'the held room is still committing');
            assert.deepEqual(texts(heldEar), []);
          },
          { maxWait: 10_000, timeout: 60_000 },
        );
        assert.equal((await (heldSend as Promise<ProtooResponse>)).ok, true);
        await waitUntil('the held room delivered', () => texts(heldEar).length === 1);
        for (const peer of [held, heldEar, free, freeEar]) await peer.close();
      });
  });
}
