// Content sniffing and the upload policy (server/src/attachments/file-type.ts): formats
// recognised from their first bytes, HTML/SVG/scripts/executables refused whatever the name,
// names that lie about the content refused, unknown binary shared as a download only.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  checkUpload,
  detectType,
  extensionOf,
  isInlineType,
  sanitizeFileName,
  textValidator,
  type Detection,
} from '../src/attachments/file-type.js';

const bytes = (...parts: Array<string | number[]>) =>
  Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'latin1') : Buffer.from(p))));

const pad = (head: Buffer, length = 64) =>
  Buffer.concat([head, Buffer.alloc(Math.max(0, length - head.length), 7)]);

/** A local file header of a zip whose first entry is `name` (stored) holding `content`. */
function zipWithEntry(name: string, content: string): Buffer {
  const header = Buffer.alloc(30);
  header.writeUInt32LE(0x04034b50, 0);
  header.writeUInt32LE(content.length, 18);
  header.writeUInt32LE(content.length, 22);
  header.writeUInt16LE(name.length, 26);
  header.writeUInt16LE(0, 28);
  return Buffer.concat([
    header,
    Buffer.from(name),
    Buffer.from(content),
    Buffer.from('PK\x03\x04', 'latin1'),
  ]);
}

const samples: Record<string, Buffer> = {
  png: pad(bytes([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], [0, 0, 0, 13], 'IHDR')),
  jpeg: pad(bytes([0xff, 0xd8, 0xff, 0xe0, 0, 0x10], 'JFIF')),
  gif: pad(bytes('GIF89a', [1, 0, 1, 0])),
  webp: pad(bytes('RIFF', [40, 0, 0, 0], 'WEBPVP8 ')),
  pdf: pad(bytes('%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n')),
  zip: zipWithEntry('hello.txt', 'hello'),
  odt: zipWithEntry('mimetype', 'application/vnd.oasis.opendocument.text'),
  docx: Buffer.concat([zipWithEntry('[Content_Types].xml', '<Types/>'), Buffer.from('word/document.xml')]),
  mp4: pad(bytes([0, 0, 0, 0x20], 'ftypisom', [0, 0, 2, 0], 'isomiso2avc1mp41')),
  m4a: pad(bytes([0, 0, 0, 0x20], 'ftypM4A ', [0, 0, 2, 0])),
  webm: pad(bytes([0x1a, 0x45, 0xdf, 0xa3, 0x9f, 0x42, 0x86, 0x81, 0x01, 0x42, 0x82, 0x84], 'webm')),
  mp3id3: pad(bytes('ID3', [4, 0, 0, 0, 0, 0, 0])),
  mp3frame: pad(bytes([0xff, 0xfb, 0x90, 0x64])),
  ogg: pad(bytes('OggS', [0, 2], [0, 0, 0, 0, 0, 0, 0, 0], [1, 2, 3, 4], [0, 0, 0, 0], 'OpusHead')),
  wav: pad(bytes('RIFF', [36, 0, 0, 0], 'WAVEfmt ')),
};

function known(detection: Detection): { family: string; mime: string } {
  assert.equal(detection.kind, 'known', `expected a known type, got ${JSON.stringify(detection)}`);
  if (detection.kind !== 'known') throw new Error('unreachable');
  return { family: detection.family, mime: detection.mime };
}

function forbidden(detection: Detection): string {
  assert.equal(detection.kind, 'forbidden', `expected a refused type, got ${JSON.stringify(detection)}`);
  if (detection.kind !== 'forbidden') throw new Error('unreachable');
  return detection.description;
}

describe('detectType: formats from their first bytes', () => {
  const expected: Array<[string, string, string]> = [
    ['png', 'png', 'image/png'],
    ['jpeg', 'jpeg', 'image/jpeg'],
    ['gif', 'gif', 'image/gif'],
    ['webp', 'webp', 'image/webp'],
    ['pdf', 'pdf', 'application/pdf'],
    ['zip', 'zip', 'application/zip'],
    ['odt', 'zip', 'application/vnd.oasis.opendocument.text'],
    ['docx', 'zip', 'application/vnd.openxmlformats-officedocument.wordprocessingml.document'],
    ['mp4', 'mp4', 'video/mp4'],
    ['m4a', 'mp4', 'audio/mp4'],
    ['webm', 'webm', 'video/webm'],
    ['mp3id3', 'mp3', 'audio/mpeg'],
    ['mp3frame', 'mp3', 'audio/mpeg'],
    ['ogg', 'ogg', 'audio/ogg'],
    ['wav', 'wav', 'audio/wav'],
  ];
  for (const [sample, family, mime] of expected) {
    test(`${sample} → ${mime}`, () => {
      assert.deepEqual(known(detectType(samples[sample] as Buffer, false)), { family, mime });
    });
  }

  test('UTF-8 text without NUL bytes is text/plain', () => {
    assert.deepEqual(known(detectType(Buffer.from('Hello, wörld! 😀\nline 2\n'), true)), {
      family: 'text',
      mime: 'text/plain',
    });
    // A byte order mark is fine, so is an empty file.
    assert.equal(known(detectType(Buffer.from('\ufeffhello'), true)).mime, 'text/plain');
    assert.equal(known(detectType(Buffer.alloc(0), true)).mime, 'text/plain');
  });

  test('a head cut in the middle of a UTF-8 character is text if the file goes on', () => {
    const cut = Buffer.from('abc😀').subarray(0, 5);
    assert.equal(known(detectType(cut, false)).mime, 'text/plain');
    assert.equal(detectType(cut, true).kind, 'unknown', 'a complete file may not end mid-character');
  });

  test('invalid UTF-8 or NUL bytes are unknown binary, application/octet-stream', () => {
    assert.deepEqual(detectType(Buffer.from([0x68, 0x69, 0x00, 0x21]), true), {
      kind: 'unknown',
      mime: 'application/octet-stream',
    });
    assert.equal(detectType(Buffer.from([0x68, 0xc3, 0x28, 0x21]), true).kind, 'unknown');
    assert.equal(detectType(Buffer.from([0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc]), true).kind, 'unknown');
  });

  test('plain XML without scripts is text (application/xml)', () => {
    const xml = '<?xml version="1.0"?>\n<note><to>Ann</to></note>\n';
    assert.deepEqual(known(detectType(Buffer.from(xml), true)), { family: 'text', mime: 'application/xml' });
  });
});

describe('detectType: content that is never accepted', () => {
  const cases: Array<[string, string | Buffer, RegExp]> = [
    ['an HTML document', '<!DOCTYPE html><html><body>hi</body></html>', /HTML/],
    ['HTML in lower case after white space and a BOM', '\ufeff \n <html lang="en">', /HTML/],
    ['a bare script tag', '<script>alert(1)</script>', /HTML/],
    ['an HTML comment', '<!-- hello --><p>x</p>', /HTML/],
    ['a paragraph', '<p>hello</p>', /HTML/],
    ['a document after some text', 'GIF-ish junk\n<!doctype html><html>', /HTML/],
    ['an SVG image', '<svg xmlns="http://www.w3.org/2000/svg"><circle r="1"/></svg>', /SVG/],
    ['an SVG image with a prolog', '<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg"/>', /SVG/],
    ['an SVG doctype', '<!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN">', /SVG/],
    ['XHTML', '<?xml version="1.0"?><root xmlns="http://www.w3.org/1999/xhtml"><b>x</b></root>', /XHTML/],
    ['XML with a script', '<?xml version="1.0"?><doc><x:script xmlns:x="y">a()</x:script></doc>', /script/],
    ['XML with a stylesheet', '<?xml version="1.0"?><?xml-stylesheet href="x.xsl"?><doc/>', /stylesheet/],
    ['a shebang script', '#!/bin/sh\nrm -rf /\n', /script/],
    ['an ELF executable', bytes([0x7f], 'ELF', [2, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0x3e, 0]), /ELF/],
    ['a PE executable', pad(bytes('MZ', [0x90, 0, 3, 0, 0, 0, 4, 0, 0, 0, 0xff, 0xff]), 128), /Windows/],
    ['a Mach-O executable', pad(bytes([0xcf, 0xfa, 0xed, 0xfe, 7, 0, 0, 1])), /Mach-O/],
    ['a universal binary', pad(bytes([0xca, 0xfe, 0xba, 0xbe, 0, 0, 0, 2])), /Mach-O/],
  ];
  for (const [what, content, description] of cases) {
    test(what, () => {
      const head = typeof content === 'string' ? Buffer.from(content) : content;
      assert.match(forbidden(detectType(head, true)), description);
    });
  }

  test('text that merely starts with "MZ" or mentions tags is still text', () => {
    assert.equal(known(detectType(Buffer.from('MZ is not an executable here'), true)).mime, 'text/plain');
    assert.equal(
      known(detectType(Buffer.from('Use <b> for bold and a <script> tag for code.'), true)).mime,
      'text/plain',
    );
    assert.equal(known(detectType(Buffer.from('a < b > c'), true)).mime, 'text/plain');
  });
});

describe('checkUpload: the policy', () => {
  test('a file whose name agrees with its content is accepted with the detected type', () => {
    assert.deepEqual(checkUpload('photo.png', detectType(samples.png as Buffer, false)), {
      ok: true,
      mimeType: 'image/png',
      inline: true,
    });
    assert.deepEqual(checkUpload('Photo.JPEG', detectType(samples.jpeg as Buffer, false)), {
      ok: true,
      mimeType: 'image/jpeg',
      inline: true,
    });
    assert.deepEqual(checkUpload('report.pdf', detectType(samples.pdf as Buffer, false)), {
      ok: true,
      mimeType: 'application/pdf',
      inline: false,
    });
  });

  test('the content decides: an image without an extension (or another one) is an image', () => {
    const verdict = checkUpload('screenshot', detectType(samples.png as Buffer, false));
    assert.deepEqual(verdict, { ok: true, mimeType: 'image/png', inline: true });
    assert.equal(checkUpload('scan.bin', detectType(samples.gif as Buffer, false)).ok, true);
  });

  test('a name that claims another known type is refused with a clear reason', () => {
    assert.deepEqual(checkUpload('photo.png', detectType(samples.pdf as Buffer, false)), {
      ok: false,
      reason: 'photo.png is not a PNG image (its content is application/pdf)',
    });
    assert.deepEqual(checkUpload('photo.png', detectType(Buffer.from('just text'), true)), {
      ok: false,
      reason: 'photo.png is not a PNG image (its content is text/plain)',
    });
    assert.deepEqual(checkUpload('notes.txt', detectType(samples.png as Buffer, false)), {
      ok: false,
      reason: 'notes.txt is not a text file (its content is image/png)',
    });
    assert.deepEqual(checkUpload('clip.mp4', detectType(Buffer.from([1, 2, 0, 3]), true)), {
      ok: false,
      reason: 'clip.mp4 is not an MP4 video (its content is application/octet-stream)',
    });
    assert.equal(checkUpload('a.jpg', detectType(samples.png as Buffer, false)).ok, false);
  });

  test('office documents are zip archives, recorded with their own type', () => {
    assert.deepEqual(checkUpload('plan.xlsx', detectType(samples.zip as Buffer, false)), {
      ok: true,
      mimeType: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
      inline: false,
    });
    assert.deepEqual(checkUpload('letter.odt', detectType(samples.odt as Buffer, false)), {
      ok: true,
      mimeType: 'application/vnd.oasis.opendocument.text',
      inline: false,
    });
    assert.equal(checkUpload('archive.zip', detectType(samples.zip as Buffer, false)).ok, true);
    assert.equal(checkUpload('letter.docx', detectType(samples.pdf as Buffer, false)).ok, false);
  });

  test('media: the container family must match the name', () => {
    assert.equal(checkUpload('song.m4a', detectType(samples.m4a as Buffer, false)).ok, true);
    assert.equal(checkUpload('clip.mov', detectType(samples.mp4 as Buffer, false)).ok, true);
    assert.equal(checkUpload('clip.webm', detectType(samples.webm as Buffer, false)).ok, true);
    assert.equal(checkUpload('song.mp3', detectType(samples.mp3frame as Buffer, false)).ok, true);
    assert.equal(checkUpload('voice.ogg', detectType(samples.ogg as Buffer, false)).ok, true);
    assert.equal(checkUpload('sound.wav', detectType(samples.wav as Buffer, false)).ok, true);
    assert.equal(checkUpload('sound.wav', detectType(samples.mp3id3 as Buffer, false)).ok, false);
  });

  test('refused content is refused whatever the name says', () => {
    const html = detectType(Buffer.from('<!doctype html><script>x()</script>'), true);
    for (const name of ['notes.txt', 'photo.png', 'page.html', 'noextension']) {
      const verdict = checkUpload(name, html);
      assert.equal(verdict.ok, false);
      if (!verdict.ok) {
        assert.match(verdict.reason, new RegExp(`^${name.replace('.', '\\.')} `));
        assert.match(verdict.reason, /HTML/);
      }
    }
    const elf = detectType(bytes([0x7f], 'ELF', [2, 1, 1, 0]), true);
    const verdict = checkUpload('innocent.pdf', elf);
    assert.equal(verdict.ok, false);
    if (!verdict.ok) assert.match(verdict.reason, /ELF executable/);
  });

  test('names that open as web pages or run as programs are refused even with harmless content', () => {
    const text = detectType(Buffer.from('hello'), true);
    for (const name of ['page.html', 'page.HTM', 'icon.svg', 'setup.exe', 'run.bat', 'x.ps1']) {
      const verdict = checkUpload(name, text);
      assert.equal(verdict.ok, false, name);
      if (!verdict.ok) assert.match(verdict.reason, /files are not accepted/);
    }
  });

  test('unknown binary content is accepted only as a download', () => {
    const unknown = detectType(Buffer.from([0x00, 0x01, 0x02, 0xfe]), true);
    assert.deepEqual(checkUpload('data.bin', unknown), {
      ok: true,
      mimeType: 'application/octet-stream',
      inline: false,
    });
    assert.deepEqual(checkUpload('model', unknown), {
      ok: true,
      mimeType: 'application/octet-stream',
      inline: false,
    });
  });

  test('text is a download, never inline; only png, jpeg, gif and webp are inline', () => {
    assert.deepEqual(checkUpload('notes.md', detectType(Buffer.from('# Notes'), true)), {
      ok: true,
      mimeType: 'text/plain',
      inline: false,
    });
    for (const mime of ['image/png', 'image/jpeg', 'image/gif', 'image/webp']) assert.ok(isInlineType(mime));
    for (const mime of ['image/svg+xml', 'text/html', 'text/plain', 'application/pdf', 'video/mp4'])
      assert.ok(!isInlineType(mime), mime);
  });
});

describe('textValidator: text to the end, not just the head', () => {
  test('valid UTF-8 split across chunks anywhere', () => {
    const all = Buffer.from('héllo 😀 wörld');
    for (let cut = 0; cut <= all.length; cut++) {
      const validator = textValidator();
      validator.push(all.subarray(0, cut));
      validator.push(all.subarray(cut));
      assert.equal(validator.end(), true, `cut at ${cut}`);
    }
  });

  test('a NUL byte, an invalid sequence or a truncated last character make it binary', () => {
    for (const tail of [[0x00], [0xc3, 0x28], [0xf0, 0x9f]]) {
      const validator = textValidator();
      validator.push(Buffer.from('plain text'));
      validator.push(Buffer.from(tail));
      assert.equal(validator.end(), false, JSON.stringify(tail));
    }
  });
});

describe('sanitizeFileName', () => {
  test('keeps the last path segment only', () => {
    assert.equal(sanitizeFileName('../../etc/passwd'), 'passwd');
    assert.equal(sanitizeFileName('C:\\Users\\ann\\report.pdf'), 'report.pdf');
  });

  test('drops control and bidi override characters, collapses white space', () => {
    assert.equal(sanitizeFileName('evil\u0000na\u0007me\r\n.txt'), 'evilname.txt');
    // "photo\u202Egnp.exe" displays as "photoexe.png": the override must go.
    assert.equal(sanitizeFileName('photo\u202egnp.exe'), 'photognp.exe');
    assert.equal(extensionOf(sanitizeFileName('photo\u202egnp.exe')), 'exe');
    assert.equal(sanitizeFileName('  my \t holiday   photo.png  '), 'my holiday photo.png');
  });

  test('keeps Unicode names', () => {
    assert.equal(sanitizeFileName('résumé 😀.pdf'), 'résumé 😀.pdf');
  });

  test('an empty or dot-only name becomes "file"', () => {
    for (const name of ['', '   ', '.', '..', '/', 'dir/', '\u0001'])
      assert.equal(sanitizeFileName(name), 'file');
    assert.equal(sanitizeFileName('.bashrc'), '.bashrc');
  });

  test('at most 200 characters, keeping the extension', () => {
    const long = `${'a'.repeat(300)}.png`;
    const cut = sanitizeFileName(long);
    assert.equal(cut.length, 200);
    assert.ok(cut.endsWith('.png'));
    const emoji = `${'😀'.repeat(250)}.txt`;
    assert.equal(Array.from(sanitizeFileName(emoji)).length, 200);
    assert.ok(sanitizeFileName(emoji).endsWith('😀.txt'));
  });
});
