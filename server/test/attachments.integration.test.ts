// Attachments against the real server, on both databases (embedded PGlite and PostgreSQL):
// upload (multipart) by a room member, download with safe headers by members only, private
// messages' files to their two people only, disguised types and oversized uploads refused
// with a clear error and nothing left behind, while the server keeps answering.
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { deflateSync } from 'node:zlib';
import { enterRoom } from '../src/chat/membership.js';
import { createIdentity, type TestIdentity } from '../../tests/helpers/identity.js';
import { startServer, type TestServer } from '../../tests/helpers/server.js';
import { waitUntil } from './support/raw-peer.js';

const databases = ['embedded', 'postgres'] as const;

function crc32(data: Buffer): number {
  let crc = 0xffffffff;
  for (const byte of data) {
    crc ^= byte;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0xedb88320 : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}

/** A real PNG: `size`×`size` pixels of one RGB colour. */
function makePng(size = 1, rgb: [number, number, number] = [255, 0, 0]): Buffer {
  const chunk = (type: string, data: Buffer) => {
    const length = Buffer.alloc(4);
    length.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(body));
    return Buffer.concat([length, body, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(size, 0);
  ihdr.writeUInt32BE(size, 4);
  ihdr.set([8, 2, 0, 0, 0], 8); // 8-bit RGB, deflate, no filter method, no interlace
  const row = Buffer.concat([Buffer.from([0]), Buffer.from(Array.from({ length: size }, () => rgb).flat())]);
  const pixels = Buffer.concat(Array.from({ length: size }, () => row));
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(pixels)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

const pdf = Buffer.from('%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n');
const html = Buffer.from(
  '<!DOCTYPE html>\n<html><body><script>alert(document.cookie)</script></body></html>\n',
);
const svg = Buffer.from(
  '<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>\n',
);
const elf = Buffer.concat([
  Buffer.from([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0]),
  Buffer.alloc(8),
  Buffer.from([2, 0, 0x3e, 0, 1, 0, 0, 0]),
  Buffer.alloc(40),
]);
/** A DOS header whose e_lfanew points at a PE signature. */
function peExecutable(): Buffer {
  const file = Buffer.alloc(256);
  file.write('MZ', 0, 'latin1');
  file.writeUInt32LE(0x80, 0x3c);
  file.write('PE\0\0', 0x80, 'latin1');
  file.writeUInt16LE(0x8664, 0x84);
  return file;
}

interface UploadAnswer {
  status: number;
  body: {
    attachment?: { id: string; fileName: string; mimeType: string; size: number; url: string };
    error?: string;
    message?: string;
  };
}

async function upload(
  server: TestServer,
  roomId: string,
  who: TestIdentity | null,
  fileName: string,
  data: Buffer,
  options: { field?: string; type?: string } = {},
): Promise<UploadAnswer> {
  const form = new FormData();
  form.append(
    options.field ?? 'file',
    new Blob([new Uint8Array(data)], { type: options.type ?? 'application/octet-stream' }),
    fileName,
  );
  const response = await fetch(`${server.url}/api/rooms/${roomId}/attachments`, {
    method: 'POST',
    headers: who ? { cookie: who.cookie } : {},
    body: form,
  });
  return { status: response.status, body: (await response.json()) as UploadAnswer['body'] };
}

function download(server: TestServer, url: string, who: TestIdentity | null): Promise<Response> {
  return fetch(`${server.url}${url}`, { headers: who ? { cookie: who.cookie } : {} });
}

async function errorOf(response: Response): Promise<{ error: string; message: string }> {
  assert.match(response.headers.get('content-type') ?? '', /^application\/json/);
  return (await response.json()) as { error: string; message: string };
}

for (const database of databases) {
  describe(`attachments (${database} database)`, () => {
    let server: TestServer;
    let attachmentsDir: string;
    let alice: TestIdentity;
    let bob: TestIdentity;
    let carol: TestIdentity;
    let mallory: TestIdentity;
    const roomId = `files-${process.pid}-${database}`;
    const png = makePng(4, [10, 200, 30]);

    before(async () => {
      attachmentsDir = mkdtempSync(join(tmpdir(), 'meet-test-attachments-'));
      server = await startServer({ ATTACHMENTS_DIR: attachmentsDir }, { database });
      alice = await createIdentity(server.url, 'Alice');
      bob = await createIdentity(server.url, 'Bob');
      carol = await createIdentity(server.url, 'Carol');
      mallory = await createIdentity(server.url, 'Mallory');
      const db = server.app.database.prisma;
      for (const member of [alice, bob, carol]) {
        await enterRoom(db, roomId, member.id, member.displayName, true);
      }
      // Mallory is a member of another room only.
      await enterRoom(db, `${roomId}-other`, mallory.id, mallory.displayName, true);
    });

    after(async () => {
      await server?.close();
      rmSync(attachmentsDir, { recursive: true, force: true });
    });

    const storedFiles = () => readdirSync(attachmentsDir);
    const rowCount = () => server.app.database.prisma.attachment.count();

    test('a member uploads a PNG: 201 with the detected type, a row and a stored file', async () => {
      const { status, body } = await upload(server, roomId, alice, 'photo.png', png, { type: 'image/png' });
      assert.equal(status, 201, JSON.stringify(body));
      const attachment = body.attachment;
      assert.ok(attachment);
      assert.match(attachment.id, /^[0-9a-f-]{36}$/);
      assert.deepEqual(attachment, {
        id: attachment.id,
        fileName: 'photo.png',
        mimeType: 'image/png',
        size: png.length,
        durationMs: null,
        url: `/api/attachments/${attachment.id}`,
      });
      const row = await server.app.database.prisma.attachment.findUniqueOrThrow({
        where: { id: attachment.id },
      });
      assert.equal(row.roomId, roomId);
      assert.equal(row.uploaderId, alice.id);
      assert.equal(row.size, png.length);
      assert.ok(storedFiles().includes(row.storageKey), 'stored under its server-generated key');
      assert.deepEqual(readFileSync(join(attachmentsDir, row.storageKey)), png);
    });

    /** Posts an uploaded file in a public message, as chatSend does. */
    async function post(attachmentId: string, author: { id: string }): Promise<void> {
      await server.app.database.prisma.message.create({
        data: { roomId, authorId: author.id, clientId: `post-${attachmentId}`, text: '', attachmentId },
      });
    }

    test('an upload not yet posted is readable by its uploader only', async () => {
      const { body } = await upload(server, roomId, alice, 'draft.png', png);
      const attachment = body.attachment;
      assert.ok(attachment);
      assert.equal((await download(server, attachment.url, alice)).status, 200);
      const refused = await download(server, attachment.url, bob);
      assert.equal(refused.status, 403);
      assert.match((await errorOf(refused)).message, /not been shared/);
      await post(attachment.id, alice);
      assert.equal((await download(server, attachment.url, bob)).status, 200);
    });

    test('a member downloads it: same bytes, served inline with the safety headers', async () => {
      const { body } = await upload(server, roomId, alice, 'holiday.png', png);
      const url = body.attachment?.url as string;
      await post(body.attachment?.id as string, alice);
      for (const who of [alice, bob]) {
        const response = await download(server, url, who);
        assert.equal(response.status, 200);
        assert.equal(response.headers.get('content-type'), 'image/png');
        assert.equal(response.headers.get('content-length'), String(png.length));
        assert.equal(response.headers.get('x-content-type-options'), 'nosniff');
        assert.equal(
          response.headers.get('content-security-policy'),
          "default-src 'none'; img-src 'self'; sandbox",
        );
        assert.equal(response.headers.get('cache-control'), 'private, max-age=3600');
        assert.match(response.headers.get('content-disposition') ?? '', /^inline(;|$)/);
        assert.deepEqual(Buffer.from(await response.arrayBuffer()), png);
      }
    });

    test('a text file is a download (Content-Disposition: attachment) with its UTF-8 name', async () => {
      const text = Buffer.from('Meeting notes\n- ship attachments ✅\n');
      const fileName = 'résumé notes 😀.txt';
      const { status, body } = await upload(server, roomId, bob, fileName, text, { type: 'text/plain' });
      assert.equal(status, 201, JSON.stringify(body));
      assert.equal(body.attachment?.mimeType, 'text/plain');
      assert.equal(body.attachment?.fileName, fileName);
      await post(body.attachment?.id as string, bob);
      const response = await download(server, body.attachment?.url as string, alice);
      assert.equal(response.status, 200);
      assert.equal(response.headers.get('content-type'), 'text/plain; charset=utf-8');
      assert.equal(response.headers.get('x-content-type-options'), 'nosniff');
      const disposition = response.headers.get('content-disposition') ?? '';
      assert.match(disposition, /^attachment;/);
      assert.ok(
        disposition.includes(`filename*=UTF-8''${encodeURIComponent(fileName)}`),
        `the UTF-8 name is in ${disposition}`,
      );
      assert.deepEqual(Buffer.from(await response.arrayBuffer()), text);
    });

    test('unknown binary content is accepted as application/octet-stream, a download', async () => {
      const data = Buffer.from([0x00, 0x13, 0x37, 0xff, 0xfe, 0x00, 0x42, 0x99]);
      const { status, body } = await upload(server, roomId, bob, 'readings.dat', data);
      assert.equal(status, 201, JSON.stringify(body));
      assert.equal(body.attachment?.mimeType, 'application/octet-stream');
      const response = await download(server, body.attachment?.url as string, bob);
      assert.equal(response.headers.get('content-type'), 'application/octet-stream');
      assert.match(response.headers.get('content-disposition') ?? '', /^attachment;/);
      assert.deepEqual(Buffer.from(await response.arrayBuffer()), data);
    });

    test('someone who never joined the room gets 403, to download and to upload', async () => {
      const { body } = await upload(server, roomId, alice, 'secret.png', png);
      const response = await download(server, body.attachment?.url as string, mallory);
      assert.equal(response.status, 403);
      const error = await errorOf(response);
      assert.equal(error.error, 'Forbidden');
      assert.match(error.message, /participants/);

      const refused = await upload(server, roomId, mallory, 'mine.png', png);
      assert.equal(refused.status, 403);
      assert.match(refused.body.message ?? '', /participants/);
    });

    test('without the identity cookie: 401, to download and to upload', async () => {
      const { body } = await upload(server, roomId, alice, 'a.png', png);
      const response = await download(server, body.attachment?.url as string, null);
      assert.equal(response.status, 401);
      assert.equal((await errorOf(response)).error, 'Unauthorized');
      const refused = await upload(server, roomId, null, 'b.png', png);
      assert.equal(refused.status, 401);
      assert.match(refused.body.message ?? '', /identity/);
    });

    test('an unknown or malformed attachment id: 404', async () => {
      for (const id of ['00000000-0000-4000-8000-000000000000', 'not-a-uuid']) {
        const response = await download(server, `/api/attachments/${id}`, alice);
        assert.equal(response.status, 404);
        assert.equal((await errorOf(response)).error, 'Not Found');
      }
    });

    test('a file in a private message: only its author and recipient may download it', async () => {
      const { body } = await upload(server, roomId, alice, 'for-bob.png', png);
      const attachment = body.attachment;
      assert.ok(attachment);
      await server.app.database.prisma.message.create({
        data: {
          roomId,
          authorId: alice.id,
          clientId: `private-${database}`,
          text: 'just for you',
          recipientId: bob.id,
          attachmentId: attachment.id,
        },
      });
      assert.equal((await download(server, attachment.url, alice)).status, 200);
      assert.equal((await download(server, attachment.url, bob)).status, 200);
      const response = await download(server, attachment.url, carol);
      assert.equal(response.status, 403);
      assert.match((await errorOf(response)).message, /private message/);
    });

    test('a bad room id: 400 with the reason', async () => {
      const { status, body } = await upload(server, 'Not A Room!', alice, 'a.png', png);
      assert.equal(status, 400);
      assert.match(body.message ?? '', /room id/);
    });

    test('not multipart, or no field named "file": 400 with the reason', async () => {
      const json = await fetch(`${server.url}/api/rooms/${roomId}/attachments`, {
        method: 'POST',
        headers: { cookie: alice.cookie, 'content-type': 'application/json' },
        body: JSON.stringify({ file: 'x' }),
      });
      assert.equal(json.status, 400);
      assert.match((await errorOf(json)).message, /multipart\/form-data/);
      const wrongField = await upload(server, roomId, alice, 'a.png', png, { field: 'upload' });
      assert.equal(wrongField.status, 400);
      assert.match(wrongField.body.message ?? '', /field named "file"/);
      const empty = await upload(server, roomId, alice, 'empty.txt', Buffer.alloc(0));
      assert.equal(empty.status, 400);
      assert.match(empty.body.message ?? '', /empty\.txt is empty/);
    });

    test('an upload that breaks off leaves nothing behind, and the server keeps running', async () => {
      const filesBefore = storedFiles().sort();
      const rowsBefore = await rowCount();
      const boundary = 'test-boundary-1234';
      const socket = connect(Number(new URL(server.url).port), '127.0.0.1');
      socket.on('error', () => {});
      socket.write(
        [
          `POST /api/rooms/${roomId}/attachments HTTP/1.1`,
          'Host: 127.0.0.1',
          `Cookie: ${alice.cookie}`,
          `Content-Type: multipart/form-data; boundary=${boundary}`,
          'Content-Length: 1000000',
          '',
          `--${boundary}`,
          'Content-Disposition: form-data; name="file"; filename="partial.png"',
          'Content-Type: image/png',
          '',
          '',
        ].join('\r\n'),
      );
      socket.write(Buffer.concat([png, Buffer.alloc(50000, 1)]));
      // Wait until the server is writing the upload (a temporary file), then hang up.
      const deadline = Date.now() + 10000;
      while (!storedFiles().some((name) => name.startsWith('.')) && Date.now() < deadline) await sleep(20);
      assert.ok(
        storedFiles().some((name) => name.startsWith('.')),
        'the upload was being written',
      );
      socket.destroy();
      while (storedFiles().length !== filesBefore.length && Date.now() < deadline) await sleep(20);
      assert.deepEqual(storedFiles().sort(), filesBefore, 'the partial file is gone');
      assert.equal(await rowCount(), rowsBefore);
      assert.equal((await fetch(`${server.url}/api/health`)).status, 200);
    });

    describe('disguised and dangerous types: 415 with the reason, nothing stored', () => {
      let filesBefore: string[];
      let rowsBefore: number;
      before(async () => {
        filesBefore = storedFiles().sort();
        rowsBefore = await rowCount();
      });
      after(async () => {
        assert.deepEqual(storedFiles().sort(), filesBefore, 'no file left in ATTACHMENTS_DIR');
        assert.equal(await rowCount(), rowsBefore, 'no attachment row');
      });

      test('a PDF named .png', async () => {
        const { status, body } = await upload(server, roomId, alice, 'photo.png', pdf, { type: 'image/png' });
        assert.equal(status, 415);
        assert.equal(body.error, 'Unsupported Media Type');
        assert.equal(body.message, 'photo.png is not a PNG image (its content is application/pdf)');
      });

      test('an HTML file named notes.txt', async () => {
        const { status, body } = await upload(server, roomId, alice, 'notes.txt', html, {
          type: 'text/plain',
        });
        assert.equal(status, 415);
        assert.match(body.message ?? '', /^notes\.txt .*HTML document/);
      });

      test('an SVG image (named .svg, or disguised as .png or .txt)', async () => {
        for (const name of ['drawing.svg', 'drawing.png', 'drawing.txt', 'drawing']) {
          const { status, body } = await upload(server, roomId, alice, name, svg, { type: 'image/svg+xml' });
          assert.equal(status, 415, name);
          assert.match(body.message ?? '', /SVG/, name);
        }
      });

      test('executables: ELF and MZ (PE), whatever the name', async () => {
        for (const [name, data, what] of [
          ['tool', elf, /ELF executable/],
          ['report.pdf', elf, /ELF executable/],
          ['setup.dat', peExecutable(), /Windows executable/],
          ['holiday.png', peExecutable(), /Windows executable/],
        ] as const) {
          const { status, body } = await upload(server, roomId, alice, name, data);
          assert.equal(status, 415, name);
          assert.match(body.message ?? '', what, name);
        }
      });

      test('a shebang script named .txt', async () => {
        const { status, body } = await upload(
          server,
          roomId,
          alice,
          'readme.txt',
          Buffer.from('#!/bin/sh\nid\n'),
        );
        assert.equal(status, 415);
        assert.match(body.message ?? '', /script/);
      });

      test('a .txt whose text turns into binary after the first bytes', async () => {
        const data = Buffer.concat([Buffer.alloc(20000, 'a'), Buffer.from([0, 1, 2, 3])]);
        const { status, body } = await upload(server, roomId, alice, 'log.txt', data);
        assert.equal(status, 415);
        assert.equal(body.message, 'log.txt is not a text file (its content is application/octet-stream)');
      });

      test('the server still works afterwards', async () => {
        const health = await fetch(`${server.url}/api/health`);
        assert.equal(health.status, 200);
      });
    });
  });

  describe(`attachments over the size limit (${database} database, ATTACHMENT_MAX_BYTES=2048)`, () => {
    let server: TestServer;
    let attachmentsDir: string;
    let alice: TestIdentity;
    const roomId = `big-files-${process.pid}-${database}`;

    before(async () => {
      attachmentsDir = mkdtempSync(join(tmpdir(), 'meet-test-attachments-'));
      server = await startServer(
        { ATTACHMENTS_DIR: attachmentsDir, ATTACHMENT_MAX_BYTES: '2048' },
        { database },
      );
      alice = await createIdentity(server.url, 'Alice');
      await enterRoom(server.app.database.prisma, roomId, alice.id, alice.displayName, true);
    });

    after(async () => {
      await server?.close();
      rmSync(attachmentsDir, { recursive: true, force: true });
    });

    test('5000 bytes: 413 naming the limit in MB, nothing stored, the server still answers', async () => {
      const data = Buffer.alloc(5000, 'x');
      const { status, body } = await upload(server, roomId, alice, 'big.txt', data);
      assert.equal(status, 413);
      assert.equal(body.error, 'Payload Too Large');
      assert.match(body.message ?? '', /^big\.txt is too large: attachments are limited to [\d.]+ MB/);
      assert.deepEqual(readdirSync(attachmentsDir), [], 'no file (not even a partial one)');
      assert.equal(await server.app.database.prisma.attachment.count(), 0, 'no attachment row');
      const health = await fetch(`${server.url}/api/health`);
      assert.equal(health.status, 200);
    });

    test('a much larger upload (past the sniffed head) is refused the same way', async () => {
      const data = Buffer.concat([makePng(), Buffer.alloc(3 * 1024 * 1024, 1)]);
      const { status, body } = await upload(server, roomId, alice, 'huge.png', data);
      assert.equal(status, 413);
      assert.match(body.message ?? '', /huge\.png is too large/);
      assert.deepEqual(readdirSync(attachmentsDir), []);
      assert.equal(await server.app.database.prisma.attachment.count(), 0);
    });

    test('a file of exactly the limit is accepted, and uploads keep working', async () => {
      const data = Buffer.alloc(2048, 'y');
      const { status, body } = await upload(server, roomId, alice, 'exact.txt', data);
      assert.equal(status, 201, JSON.stringify(body));
      assert.equal(body.attachment?.size, 2048);
      assert.equal(readdirSync(attachmentsDir).length, 1);
      const response = await download(server, body.attachment?.url as string, alice);
      assert.deepEqual(Buffer.from(await response.arrayBuffer()), data);
      // Last on this connection: a plain answer, so that closing the server does not race the
      // end of the streamed download (the client has every byte before the server's stream ends).
      assert.equal((await fetch(`${server.url}/api/health`)).status, 200);
    });
  });
}

describe('unreachable attachments are removed (ATTACHMENT_UNPOSTED_TTL=2)', () => {
  let server: TestServer;
  let attachmentsDir: string;
  const roomId = `sweep-${process.pid}`;

  before(async () => {
    attachmentsDir = mkdtempSync(join(tmpdir(), 'meet-test-sweep-'));
    // Swept every second (half the TTL): an upload not posted within 2 s goes.
    server = await startServer({ ATTACHMENTS_DIR: attachmentsDir, ATTACHMENT_UNPOSTED_TTL: '2' });
  });

  after(async () => {
    await server?.close();
    rmSync(attachmentsDir, { recursive: true, force: true });
  });

  test('an upload never posted, and the file of a deleted message, are deleted; a posted file stays', async () => {
    const db = server.app.database.prisma;
    const alice = await createIdentity(server.url, 'Alice');
    await enterRoom(db, roomId, alice.id, alice.displayName, true);
    const png = makePng(2);
    const uploaded = async (name: string) => {
      const { status, body } = await upload(server, roomId, alice, name, png);
      assert.equal(status, 201, JSON.stringify(body));
      const attachment = body.attachment as NonNullable<UploadAnswer['body']['attachment']>;
      const row = await db.attachment.findUniqueOrThrow({ where: { id: attachment.id } });
      return { ...attachment, storageKey: row.storageKey };
    };
    const post = (attachmentId: string, clientId: string) =>
      db.message.create({ data: { roomId, authorId: alice.id, clientId, text: '', attachmentId } });

    const never = await uploaded('never-posted.png');
    const kept = await uploaded('posted.png');
    await post(kept.id, 'posted-0001');
    const deleted = await uploaded('deleted.png');
    const message = await post(deleted.id, 'deleted-0001');
    await db.message.update({ where: { id: message.id }, data: { text: '', deletedAt: new Date() } });

    const gone = async (a: { id: string; storageKey: string }) =>
      (await db.attachment.findUnique({ where: { id: a.id } })) === null &&
      !readdirSync(attachmentsDir).includes(a.storageKey);
    await waitUntil('the deleted message’s file to be removed', () => gone(deleted), 10_000);
    await waitUntil('the upload never posted to be removed', () => gone(never), 10_000);
    assert.equal((await download(server, never.url, alice)).status, 404);
    // The posted one stays, row and file, and is still served.
    assert.equal(await gone(kept), false);
    const response = await download(server, kept.url, alice);
    assert.equal(response.status, 200);
    assert.deepEqual(Buffer.from(await response.arrayBuffer()), png);
  });
});
