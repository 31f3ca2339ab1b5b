// Reactions and search over the real signaling socket, on both databases. Reactions: an
// added or taken-back emoji reaches everyone who may see the message (a private message's
// two people only), each change with a higher version; a repeat changes nothing; at most
// maxReactionsPerMessage different emoji, even when two people pass the limit at once; bad
// reactions refused with their reason. Search: every word as a prefix, newest first, pages,
// only what the person may see (not others' private messages, not deleted ones), any script.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { maxReactionsPerMessage, type ChatMessage } from '@meet/protocol';
import { startServer, type TestServer } from '../../tests/helpers/server.js';
import { RawPeer, waitUntil } from './support/raw-peer.js';

// Twenty-one different emoji, with a flag, a keycap, a skin tone and a ZWJ sequence.
const emoji = [
  '👍',
  '❤️',
  '😂',
  '🎉',
  '😮',
  '🙏',
  '👀',
  '✅',
  '🔥',
  '🚀',
  '🇫🇷',
  '1️⃣',
  '👋🏽',
  '👩‍💻',
  '🙂',
  '🤔',
  '💯',
  '🍕',
  '☕',
  '🌈',
  '🐙',
];

for (const database of ['embedded', 'postgres'] as const) {
  describe(`reactions and search (${database})`, () => {
    let server: TestServer;
    const peers: RawPeer[] = [];
    before(async () => {
      server = await startServer(
        { CHAT_RATE: '1000', CHAT_BURST: '1000', IDENTITY_RATE_LIMIT: '1000' },
        { database },
      );
    });
    after(async () => {
      await Promise.all(peers.map((peer) => peer.close()));
      await server?.close();
    });

    async function joinAs(roomId: string, name: string) {
      const peer = await RawPeer.connect(server, roomId, name);
      peers.push(peer);
      const rtpCapabilities = await peer.ok('getRouterRtpCapabilities', {});
      await peer.ok('join', { displayName: name, rtpCapabilities });
      return { peer, id: peer.identity?.id as string };
    }
    let sent = 0;
    const send = async (peer: RawPeer, text: string, recipientId?: string) =>
      (
        await peer.ok<{ message: ChatMessage }>('chatSend', {
          clientId: `client-${database}-${++sent}`,
          text,
          ...(recipientId ? { recipientId } : {}),
        })
      ).message;
    const react = async (peer: RawPeer, messageId: string, e: string, add = true) =>
      (await peer.ok<{ message: ChatMessage }>('chatReact', { messageId, emoji: e, add })).message;
    const updates = (peer: RawPeer, id: string) =>
      peer
        .notifications('chatMessageUpdated')
        .map((n) => (n.data as { message: ChatMessage }).message)
        .filter((m) => m.id === id);
    const newest = (peer: RawPeer, id: string) =>
      updates(peer, id).reduce<ChatMessage | undefined>(
        (best, m) => (best === undefined || m.version > best.version ? m : best),
        undefined,
      );

    test('a reaction reaches the room with a higher version; a repeat changes nothing; history has them', async () => {
      const roomId = `react-${database}`;
      const ann = await joinAs(roomId, 'Ann');
      const ben = await joinAs(roomId, 'Ben');
      const cid = await joinAs(roomId, 'Cid');
      const message = await send(ann.peer, 'lunch at noon?');
      assert.deepEqual(message.reactions, []);
      assert.equal(message.version, 0);

      const afterBen = await react(ben.peer, message.id, '👍');
      assert.deepEqual(afterBen.reactions, [{ emoji: '👍', by: [ben.id] }]);
      assert.equal(afterBen.version, 1);
      for (const { peer } of [ann, cid])
        await waitUntil('the others see Ben’s 👍', () => newest(peer, message.id)?.version === 1);
      assert.deepEqual(newest(ann.peer, message.id)?.reactions, [{ emoji: '👍', by: [ben.id] }]);
      assert.equal(updates(ben.peer, message.id).length, 0, 'the reactor learns from the answer');

      // The same again: answered with the message as it is, told to nobody.
      const again = await react(ben.peer, message.id, '👍');
      assert.equal(again.version, 1);
      await react(cid.peer, message.id, '🎉', false); // taking back what was never given
      await react(ann.peer, message.id, '👍');
      await react(cid.peer, message.id, '🎉');
      const taken = await react(ben.peer, message.id, '👍', false);
      assert.deepEqual(taken.reactions, [
        { emoji: '👍', by: [ann.id] },
        { emoji: '🎉', by: [cid.id] },
      ]);
      assert.equal(taken.version, 4, 'only the four changes counted');
      await waitUntil('Ann sees version 4', () => newest(ann.peer, message.id)?.version === 4);
      assert.deepEqual(newest(ann.peer, message.id)?.reactions, taken.reactions);
      assert.equal(updates(ann.peer, message.id).length, 3, 'no update for the repeat or the no-op');

      const { messages } = await cid.peer.ok<{ messages: ChatMessage[] }>('chatHistory', {});
      assert.deepEqual(messages.find((m) => m.id === message.id)?.reactions, taken.reactions);

      // Edits and deletes count as versions too; a deleted message shows no reactions and takes none.
      const edited = (
        await ann.peer.ok<{ message: ChatMessage }>('chatEdit', {
          messageId: message.id,
          text: 'lunch at one?',
        })
      ).message;
      assert.equal(edited.version, 5);
      assert.deepEqual(edited.reactions, taken.reactions);
      const deleted = (await ann.peer.ok<{ message: ChatMessage }>('chatDelete', { messageId: message.id }))
        .message;
      assert.equal(deleted.version, 6);
      assert.deepEqual(deleted.reactions, []);
      await ben.peer.fails('chatReact', { messageId: message.id, emoji: '👍', add: true }, 409, /deleted/);
    });

    test('a private message’s reactions reach its two people only; others cannot react to it', async () => {
      const roomId = `react-private-${database}`;
      const ann = await joinAs(roomId, 'Ann');
      const ben = await joinAs(roomId, 'Ben');
      const cid = await joinAs(roomId, 'Cid');
      const secret = await send(ann.peer, 'just for you', ben.id);
      await react(ben.peer, secret.id, '❤️');
      await waitUntil('Ann sees Ben’s ❤️', () => newest(ann.peer, secret.id)?.version === 1);
      const marker = await send(ann.peer, 'marker');
      await react(ben.peer, marker.id, '👀');
      await waitUntil('Cid sees the marker’s reaction', () => newest(cid.peer, marker.id)?.version === 1);
      assert.equal(updates(cid.peer, secret.id).length, 0, 'Cid hears nothing of the private message');
      await cid.peer.fails('chatReact', { messageId: secret.id, emoji: '👍', add: true }, 404, /not found/);
    });

    test(`at most ${maxReactionsPerMessage} different emoji, even when two pass the limit at once`, async () => {
      const roomId = `react-limit-${database}`;
      const ann = await joinAs(roomId, 'Ann');
      const ben = await joinAs(roomId, 'Ben');
      const message = await send(ann.peer, 'react to me');
      for (const e of emoji.slice(0, maxReactionsPerMessage - 1)) await react(ann.peer, message.id, e);
      // One place left, two new emoji at the same moment: exactly one gets it.
      const raced = await Promise.all([
        ann.peer.request('chatReact', { messageId: message.id, emoji: emoji[19], add: true }),
        ben.peer.request('chatReact', { messageId: message.id, emoji: emoji[20], add: true }),
      ]);
      const refused = raced.filter((r) => !r.ok);
      assert.equal(
        refused.length,
        1,
        `exactly one of the two is refused: ${JSON.stringify(raced.map((r) => r.errorReason ?? 'ok'))}`,
      );
      assert.equal(refused[0]?.errorCode, 409);
      assert.match(
        String(refused[0]?.errorReason),
        new RegExp(`at most ${maxReactionsPerMessage} different`),
      );
      // An emoji already there still takes more people.
      const more = await react(ben.peer, message.id, '👍');
      assert.equal(more.reactions.length, maxReactionsPerMessage);
      assert.deepEqual(more.reactions[0], { emoji: '👍', by: [ann.id, ben.id] });
      const rows = await server.app.database.prisma.reaction.count({ where: { messageId: message.id } });
      assert.equal(rows, maxReactionsPerMessage + 1);
    });

    test('bad reactions are refused with their reason', async () => {
      const roomId = `react-bad-${database}`;
      const ann = await joinAs(roomId, 'Ann');
      const message = await send(ann.peer, 'hello');
      for (const bad of ['a', '👍👍', '<b>', '👍 ', '', 'x'.repeat(40)])
        await ann.peer.fails('chatReact', { messageId: message.id, emoji: bad, add: true }, 400, /emoji/);
      await ann.peer.fails('chatReact', { messageId: message.id, emoji: '👍' }, 400, /add/);
      await ann.peer.fails(
        'chatReact',
        { messageId: message.id, emoji: '👍', add: true, extra: 1 },
        400,
        /unrecognized|extra/i,
      );
      await ann.peer.fails(
        'chatReact',
        { messageId: '00000000-0000-4000-8000-000000000000', emoji: '👍', add: true },
        404,
        /not found/,
      );
      // A message of another room is not found from this one.
      const other = await joinAs(`react-bad-other-${database}`, 'Ann elsewhere');
      await other.peer.fails(
        'chatReact',
        { messageId: message.id, emoji: '👍', add: true },
        404,
        /not found/,
      );
      const system = await server.app.database.prisma.message.create({
        data: { roomId, kind: 'system', text: 'Ann joined' },
      });
      await ann.peer.fails(
        'chatReact',
        { messageId: system.id, emoji: '👍', add: true },
        400,
        /only messages people wrote/,
      );
    });

    test('search finds every word as a prefix, newest first, in pages, only what one may see', async () => {
      const roomId = `search-${database}`;
      const ann = await joinAs(roomId, 'Ann');
      const ben = await joinAs(roomId, 'Ben');
      const cid = await joinAs(roomId, 'Cid');
      const monday = await send(ann.peer, "Let's meet on Monday");
      const notes = await send(ben.peer, 'Meeting notes are in the doc');
      const munich = await send(cid.peer, 'Grüße aus MÜNCHEN, café time');
      const russian = await send(cid.peer, 'Привет, мир');
      await send(ann.peer, 'nothing to see here');
      const secret = await send(ann.peer, 'secret meeting plan', ben.id);
      const gone = await send(ben.peer, 'meeting to delete');
      await ben.peer.ok('chatDelete', { messageId: gone.id });
      const search = async (peer: RawPeer, data: Record<string, unknown>) =>
        peer.ok<{ messages: ChatMessage[]; hasMore: boolean }>('chatSearch', data);
      const ids = (r: { messages: ChatMessage[] }) => r.messages.map((m) => m.id);

      assert.deepEqual(ids(await search(cid.peer, { query: 'meet' })), [notes.id, monday.id]);
      assert.deepEqual(ids(await search(ben.peer, { query: 'MEET' })), [secret.id, notes.id, monday.id]);
      assert.deepEqual(ids(await search(ann.peer, { query: 'meeting notes' })), [notes.id], 'every word');
      assert.deepEqual(ids(await search(ann.peer, { query: 'notes, meeting!' })), [notes.id], 'in any order');
      assert.deepEqual(ids(await search(ann.peer, { query: 'münchen' })), [munich.id], 'case folded');
      assert.deepEqual(ids(await search(ann.peer, { query: 'Café' })), [munich.id]);
      assert.deepEqual(ids(await search(ann.peer, { query: 'привет' })), [russian.id], 'any script');
      assert.deepEqual(
        ids(await search(ann.peer, { query: 'delete' })),
        [],
        'deleted messages are not found',
      );
      assert.deepEqual(
        ids(await search(ann.peer, { query: "it's ' & | ! <-> :*" })),
        [],
        'operators are words',
      );

      // Pages: two at a time, then the rest before the oldest seen.
      const first = await search(ben.peer, { query: 'meet', limit: 2 });
      assert.deepEqual(ids(first), [secret.id, notes.id]);
      assert.equal(first.hasMore, true);
      const second = await search(ben.peer, { query: 'meet', limit: 2, beforeSeq: first.messages[1]?.seq });
      assert.deepEqual(ids(second), [monday.id]);
      assert.equal(second.hasMore, false);

      // Reactions come along with what is found.
      await react(ann.peer, notes.id, '✅');
      const found = await search(cid.peer, { query: 'notes' });
      assert.deepEqual(found.messages[0]?.reactions, [{ emoji: '✅', by: [ann.id] }]);

      await cid.peer.fails('chatSearch', { query: '  !!  ' }, 400, /at least one word/);
      await cid.peer.fails('chatSearch', { query: 'x'.repeat(201) }, 400, /at most 200/);
      await cid.peer.fails('chatSearch', { query: 'meet', limit: 51 }, 400, /limit/);
      await cid.peer.fails('chatSearch', { query: 'meet', beforeSeq: 'x' }, 400, /seq/);
    });
  });
}
