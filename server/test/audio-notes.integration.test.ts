// Audio notes on the server, on both databases: an upload of audio with its length
// (?durationMs) keeps it, and the message that posts it carries it (live and in history);
// a length on anything but audio, or out of range, is refused with the reason.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { ChatMessage } from '@meet/protocol';
import { createIdentity } from '../../tests/helpers/identity.js';
import { startServer, type TestServer } from '../../tests/helpers/server.js';
import { RawPeer } from './support/raw-peer.js';

/** The start of a WebM file as MediaRecorder writes it (EBML header, DocType "webm"). */
const webmHead = Buffer.from([
  0x1a, 0x45, 0xdf, 0xa3, 0x9f, 0x42, 0x86, 0x81, 0x01, 0x42, 0xf7, 0x81, 0x01, 0x42, 0xf2, 0x81, 0x04, 0x42,
  0xf3, 0x81, 0x08, 0x42, 0x82, 0x84, 0x77, 0x65, 0x62, 0x6d, 0x42, 0x87, 0x81, 0x04, 0x42, 0x85, 0x81, 0x02,
]);

for (const database of ['embedded', 'postgres'] as const) {
  describe(`audio notes (${database})`, () => {
    let server: TestServer;
    before(async () => {
      server = await startServer({ IDENTITY_RATE_LIMIT: '1000', UPLOAD_RATE_LIMIT: '1000' }, { database });
    });
    after(async () => {
      await server?.close();
    });

    test('the length is kept with audio and told with its message; refused on other files', async () => {
      const roomId = `audio-${database}`;
      const ann = await createIdentity(server.url, 'Ann');
      const peer = await RawPeer.connect(server, roomId, ann);
      const rtpCapabilities = await peer.ok('getRouterRtpCapabilities', {});
      await peer.ok('join', { displayName: 'Ann', rtpCapabilities });
      const upload = async (query: string, content: Buffer, name: string) => {
        const form = new FormData();
        form.append('file', new Blob([new Uint8Array(content)]), name);
        const response = await fetch(new URL(`/api/rooms/${roomId}/attachments${query}`, server.url), {
          method: 'POST',
          headers: { cookie: ann.cookie },
          body: form,
        });
        return {
          status: response.status,
          body: (await response.json()) as {
            attachment: { id: string; durationMs: number | null };
            message: string;
          },
        };
      };
      const note = await upload(
        '?durationMs=2140',
        Buffer.concat([webmHead, Buffer.alloc(2000, 1)]),
        'voice-note.webm',
      );
      assert.equal(note.status, 201, JSON.stringify(note.body));
      assert.equal(note.body.attachment.durationMs, 2140);
      const { message } = await peer.ok<{ message: ChatMessage }>('chatSend', {
        clientId: 'audio-note-1',
        text: '',
        attachmentId: note.body.attachment.id,
      });
      assert.equal(message.attachment?.durationMs, 2140);
      const history = await peer.ok<{ messages: ChatMessage[] }>('chatHistory', {});
      assert.equal(history.messages.at(-1)?.attachment?.durationMs, 2140);

      const plain = await upload('', Buffer.from('just text'), 'notes.txt');
      assert.equal(plain.body.attachment.durationMs, null, 'other files have no length');
      const wrong = await upload('?durationMs=1000', Buffer.from('just text'), 'notes.txt');
      assert.equal(wrong.status, 400);
      assert.match(wrong.body.message, /durationMs is for audio notes/);
      for (const bad of ['0', '600001', 'x'])
        assert.equal((await upload(`?durationMs=${bad}`, webmHead, 'voice.webm')).status, 400, bad);
      await peer.close();
    });
  });
}
