// Message text → text and link segments: only http(s) URLs become links, nothing is HTML.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { linkify } from '../src/lib/chat/linkify.js';

test('plain text stays one text segment, markup included', () => {
  assert.deepEqual(linkify('<img src=x onerror=alert(1)>'), [
    { kind: 'text', text: '<img src=x onerror=alert(1)>' },
  ]);
});

test('http and https URLs become links; trailing punctuation stays text', () => {
  assert.deepEqual(linkify('see https://example.org/a?b=1, and http://x.test.'), [
    { kind: 'text', text: 'see ' },
    { kind: 'link', text: 'https://example.org/a?b=1', href: 'https://example.org/a?b=1' },
    { kind: 'text', text: ', and ' },
    { kind: 'link', text: 'http://x.test', href: 'http://x.test/' },
    { kind: 'text', text: '.' },
  ]);
});

test('javascript:, data: and other schemes never become links', () => {
  for (const text of [
    'javascript:alert(1)',
    'data:text/html,<script>alert(1)</script>',
    '[x](javascript:alert(1))',
    'JaVaScRiPt:alert(1)',
    'vbscript:msgbox',
  ]) {
    assert.ok(
      linkify(text).every((s) => s.kind === 'text'),
      text,
    );
  }
});

test('a URL cannot smuggle quotes or angle brackets into the href', () => {
  const segments = linkify('https://example.org/"onmouseover="alert(1)');
  const link = segments.find((s) => s.kind === 'link');
  assert.equal(link?.kind === 'link' && link.href, 'https://example.org/');
});
