// The chat over the real signaling socket, against both databases: a send is acknowledged
// with the stored message, a retry with the same client id is stored and announced once,
// private messages reach exactly author and recipient (live and in history), only authors
// edit or delete, and bad chat requests get clear errors.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { ChatMessage } from '@meet/protocol';
import { startServer, type TestServer } from '../../tests/helpers/server.js';
import { createIdentity } from '../../tests/helpers/identity.js';
import { RawPeer, waitUntil } from './support/raw-peer.js';

for (const database of ['embedded', 'postgres'] as const) {
  describe(`chat over signaling (${database})`, () => {
    let server: TestServer;
    before(async () => {
      // Not a test of the chat rate limit (server/test/hardening.integration.test.ts is).
      server = await startServer({ CHAT_RATE: '1000', CHAT_BURST: '1000' }, { database });
    });
    after(async () => {
      await server?.close();
    });

    async function joinAs(roomId: string, name: string): Promise<RawPeer> {
      const peer = await RawPeer.connect(server, roomId, name);
      const rtpCapabilities = await peer.ok('getRouterRtpCapabilities', {});
      await peer.ok('join', { displayName: name, rtpCapabilities });
      return peer;
    }
    const count = () => server.app.database.prisma.message.count();
    const chatNotifications = (peer: RawPeer) =>
      peer.notifications('chatMessage').map((n) => (n.data as { message: ChatMessage }).message);

    test('the same message sent twice with one client id is stored and announced once', async () => {
      const roomId = `idem-${database}`;
      const ann = await joinAs(roomId, 'Ann');
      const ben = await joinAs(roomId, 'Ben');
      const before = await count();
      const first = await ann.ok<{ message: ChatMessage }>('chatSend', {
        clientId: 'client-id-0001',
        text: 'only once',
      });
      // A retry (say, after a lost acknowledgement), and two more at the same time.
      const retries = await Promise.all([
        ann.ok<{ message: ChatMessage }>('chatSend', { clientId: 'client-id-0001', text: 'only once' }),
        ann.ok<{ message: ChatMessage }>('chatSend', { clientId: 'client-id-0001', text: 'only once' }),
        ann.ok<{ message: ChatMessage }>('chatSend', { clientId: 'client-id-0001', text: 'only once' }),
      ]);
      for (const retry of retries) assert.deepEqual(retry.message, first.message);
      assert.equal(await count(), before + 1);
      await ann.ok('chatSend', { clientId: 'client-id-0002', text: 'marker' });
      await waitUntil('Ben gets the marker', () => chatNotifications(ben).some((m) => m.text === 'marker'));
      assert.equal(chatNotifications(ben).filter((m) => m.text === 'only once').length, 1);
      assert.equal(
        chatNotifications(ann).length,
        0,
        'the sender learns from the acknowledgement, not a notification',
      );
      // Stored before acknowledged: the row is there with the acknowledged seq.
      const row = await server.app.database.prisma.message.findUniqueOrThrow({
        where: { id: first.message.id },
      });
      assert.equal(row.seq.toString(), first.message.seq);
    });

    test('a private message reaches exactly its author and recipient, live and in history', async () => {
      const roomId = `private-${database}`;
      const ann = await joinAs(roomId, 'Ann');
      const ben = await joinAs(roomId, 'Ben');
      const cid = await joinAs(roomId, 'Cid');
      const sent = await ann.ok<{ message: ChatMessage }>('chatSend', {
        clientId: 'private-00001',
        text: 'psst, Ben',
        recipientId: ben.identity?.id,
      });
      assert.equal(sent.message.recipient?.displayName, 'Ben');
      await cid.ok('chatSend', { clientId: 'public-000001', text: 'hello all' });
      await waitUntil('Ben gets both', () => chatNotifications(ben).length === 2);
      await waitUntil('Ann gets the public one', () => chatNotifications(ann).length === 1);
      assert.deepEqual(chatNotifications(cid), []);
      const historyOf = async (peer: RawPeer) =>
        (await peer.ok<{ messages: ChatMessage[] }>('chatHistory', {})).messages.map((m) => m.text);
      assert.deepEqual(await historyOf(ann), ['hello all', 'psst, Ben']);
      assert.deepEqual(await historyOf(ben), ['hello all', 'psst, Ben']);
      assert.deepEqual(await historyOf(cid), ['hello all']);
    });

    test('client ids are scoped to the room: the same id in another room is another message', async () => {
      const identity = await createIdentity(server.url, 'Cy');
      const inA = await RawPeer.connect(server, `scope-a-${database}`, identity);
      const inB = await RawPeer.connect(server, `scope-b-${database}`, identity);
      for (const peer of [inA, inB]) {
        const rtpCapabilities = await peer.ok('getRouterRtpCapabilities', {});
        await peer.ok('join', { displayName: 'Cy', rtpCapabilities });
      }
      const a = await inA.ok<{ message: ChatMessage }>('chatSend', {
        clientId: 'same-id-0001',
        text: 'in A',
      });
      const b = await inB.ok<{ message: ChatMessage }>('chatSend', {
        clientId: 'same-id-0001',
        text: 'in B',
      });
      assert.notEqual(b.message.id, a.message.id);
      assert.equal(b.message.text, 'in B');
      const historyB = await inB.ok<{ messages: ChatMessage[] }>('chatHistory', {});
      assert.deepEqual(
        historyB.messages.map((m) => m.text),
        ['in B'],
      );
    });

    test('a message keeps the name its author had when writing it', async () => {
      const roomId = `names-${database}`;
      const identity = await createIdentity(server.url, 'Dee');
      const dee = await RawPeer.connect(server, roomId, identity);
      const rtpCapabilities = await dee.ok('getRouterRtpCapabilities', {});
      await dee.ok('join', { displayName: 'Dee', rtpCapabilities });
      const reader = await joinAs(roomId, 'Reader');
      await dee.ok('chatSend', { clientId: 'before-rename', text: 'as Dee' });
      await dee.ok('chatSend', { clientId: 'to-reader-01', text: 'psst', recipientId: reader.identity?.id });
      // Rename both, as the lobby does with POST /api/identity.
      for (const [who, name] of [
        [identity.cookie, 'Deanna'],
        [reader.identity?.cookie ?? '', 'Rita'],
      ] as const) {
        const renamed = await fetch(new URL('/api/identity', server.url), {
          method: 'POST',
          headers: { 'content-type': 'application/json', cookie: who },
          body: JSON.stringify({ displayName: name }),
        });
        assert.equal(renamed.status, 200);
      }
      await dee.ok('chatSend', { clientId: 'after-rename', text: 'as Deanna' });
      const history = await reader.ok<{ messages: ChatMessage[] }>('chatHistory', {});
      const byText = new Map(history.messages.map((m) => [m.text, m]));
      assert.equal(byText.get('as Dee')?.author?.displayName, 'Dee');
      assert.equal(byText.get('psst')?.author?.displayName, 'Dee');
      assert.equal(byText.get('psst')?.recipient?.displayName, 'Reader');
      assert.equal(byText.get('as Deanna')?.author?.displayName, 'Deanna');
    });

    test('history pages newest first without gaps or repeats', async () => {
      const roomId = `pages-${database}`;
      const ann = await joinAs(roomId, 'Ann');
      for (let i = 0; i < 23; i++)
        await ann.ok('chatSend', { clientId: `page-msg-${String(i).padStart(4, '0')}`, text: `m${i}` });
      const seen: string[] = [];
      let beforeSeq: string | undefined;
      for (;;) {
        const page = await ann.ok<{ messages: ChatMessage[]; hasMore: boolean }>('chatHistory', {
          limit: 10,
          ...(beforeSeq ? { beforeSeq } : {}),
        });
        seen.push(...page.messages.map((m) => m.text));
        if (!page.hasMore) break;
        beforeSeq = page.messages.at(-1)?.seq;
      }
      assert.deepEqual(
        seen,
        Array.from({ length: 23 }, (_, i) => `m${22 - i}`),
      );
    });

    test('only the author edits or deletes; everyone sees the change', async () => {
      const roomId = `edit-${database}`;
      const ann = await joinAs(roomId, 'Ann');
      const ben = await joinAs(roomId, 'Ben');
      const { message } = await ann.ok<{ message: ChatMessage }>('chatSend', {
        clientId: 'edit-0000001',
        text: 'draft',
      });
      await ben.fails('chatEdit', { messageId: message.id, text: 'hijacked' }, 403, /only the author/);
      await ben.fails('chatDelete', { messageId: message.id }, 403, /only the author/);
      const edited = await ann.ok<{ message: ChatMessage }>('chatEdit', {
        messageId: message.id,
        text: 'final',
      });
      assert.equal(edited.message.text, 'final');
      assert.ok(edited.message.editedAt);
      const update = await ben.nextNotification('chatMessageUpdated');
      assert.equal((update.data as { message: ChatMessage }).message.text, 'final');
      const deleted = await ann.ok<{ message: ChatMessage }>('chatDelete', { messageId: message.id });
      assert.equal(deleted.message.text, '');
      assert.ok(deleted.message.deletedAt);
      await ann.fails('chatEdit', { messageId: message.id, text: 'again' }, 409, /deleted/);
    });

    test('bad chat requests get clear errors and change nothing', async () => {
      const roomId = `bad-${database}`;
      const stranger = await RawPeer.connect(server, roomId, 'Stranger');
      await stranger.fails('chatSend', { clientId: 'not-joined-01', text: 'hi' }, 403, /join the room/);
      const ann = await joinAs(roomId, 'Ann');
      const before = await count();
      await ann.fails(
        'chatSend',
        { clientId: 'empty-000001', text: '   ' },
        400,
        /needs text or an attachment/,
      );
      await ann.fails('chatSend', { clientId: 'long-0000001', text: 'x'.repeat(4001) }, 400, /at most 4000/);
      await ann.fails('chatSend', { clientId: 'bad id!', text: 'x' }, 400, /clientId/);
      await ann.fails(
        'chatSend',
        { clientId: 'norecip-0001', text: 'x', recipientId: '00000000-0000-4000-8000-000000000000' },
        404,
        /recipient is not a participant/,
      );
      await ann.fails(
        'chatSend',
        { clientId: 'self-0000001', text: 'x', recipientId: ann.identity?.id },
        400,
        /another participant/,
      );
      await ann.fails(
        'chatEdit',
        { messageId: '00000000-0000-4000-8000-000000000000', text: 'x' },
        404,
        /not found/,
      );
      await ann.fails('chatHistory', { beforeSeq: 'abc' }, 400, /seq/);
      assert.equal(await count(), before);
    });
  });
}
