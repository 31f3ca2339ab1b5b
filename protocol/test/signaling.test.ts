// Unit tests of the shared signaling protocol: request validation, protoo envelope parsing,
// room ids, display names and random room ids.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  ErrorCode,
  displayNameSchema,
  isRequestMethod,
  parseEnvelope,
  randomRoomId,
  requests,
  roomIdSchema,
  validateRequest,
} from '../src/index.js';

const rtpCapabilities = {
  codecs: [
    { kind: 'audio', mimeType: 'audio/opus', clockRate: 48000, channels: 2, preferredPayloadType: 100 },
    { kind: 'video', mimeType: 'video/VP8', clockRate: 90000, rtcpFeedback: [{ type: 'nack' }] },
  ],
  headerExtensions: [{ kind: 'audio', uri: 'urn:ietf:params:rtp-hdrext:sdes:mid', preferredId: 1 }],
};

const dtlsParameters = {
  role: 'client',
  fingerprints: [{ algorithm: 'sha-256', value: Array.from({ length: 32 }, () => 'AB').join(':') }],
};

const uuid = '7a0c1f2e-1111-4222-8333-944455556666';

const rtpParameters = {
  mid: '0',
  codecs: [{ mimeType: 'audio/opus', payloadType: 100, clockRate: 48000, channels: 2 }],
  encodings: [{ ssrc: 1111 }],
  rtcp: { cname: 'abc' },
};

/** Asserts a validation failure with code 400 whose reason matches every pattern. */
function assertRejected(
  result: { ok: true } | { ok: false; code: number; reason: string },
  ...patterns: RegExp[]
): string {
  assert.equal(result.ok, false, 'expected the input to be rejected');
  if (result.ok) throw new Error('unreachable');
  assert.equal(result.code, ErrorCode.BadRequest);
  assert.equal(typeof result.reason, 'string');
  assert.ok(result.reason.length > 0, 'the reason is not empty');
  for (const pattern of patterns) assert.match(result.reason, pattern);
  return result.reason;
}

describe('validateRequest', () => {
  const valid: Array<[string, unknown]> = [
    ['getRouterRtpCapabilities', {}],
    ['join', { displayName: 'Alice', rtpCapabilities }],
    ['createWebRtcTransport', { direction: 'send' }],
    ['createWebRtcTransport', { direction: 'recv', forceTcp: true }],
    ['connectWebRtcTransport', { transportId: 't1', dtlsParameters }],
    ['restartIce', { transportId: 't1' }],
    ['produce', { transportId: 't1', kind: 'audio', rtpParameters, source: 'mic' }],
    ['produce', { transportId: 't1', kind: 'video', rtpParameters, source: 'screen', paused: true }],
    ['pauseProducer', { producerId: 'p1' }],
    ['resumeProducer', { producerId: 'p1' }],
    ['closeProducer', { producerId: 'p1' }],
    ['consume', { transportId: 't1', producerId: 'p1' }],
    ['resumeConsumer', { consumerId: 'c1' }],
    ['pauseConsumer', { consumerId: 'c1' }],
    ['leave', {}],
    ['getIceServers', {}],
    ['leaveCall', {}],
    ['setView', { tiles: [] }],
    ['setView', { tiles: [{ consumerId: 'c1', width: 640, height: 360 }] }],
    ['chatSend', { clientId: 'client-0001', text: 'hello' }],
    ['chatSend', { clientId: 'client_0002', text: '', attachmentId: uuid }],
    ['chatSend', { clientId: 'client-0003', text: 'psst', recipientId: uuid }],
    ['chatHistory', {}],
    ['chatHistory', { beforeSeq: '42', limit: 100 }],
    ['chatEdit', { messageId: uuid, text: 'fixed' }],
    ['chatDelete', { messageId: uuid }],
    ['chatMarkRead', { seq: '9223372036854775807' }],
    ['setPresence', { away: true }],
    ['chatTyping', {}],
    ['setStatus', { status: 'busy' }],
    ['chatSend', { clientId: 'client-0001', text: 'hi @Ada', mentions: [uuid] }],
    ['chatTyping', { recipientId: uuid }],
    ['chatReact', { messageId: uuid, emoji: '👍', add: true }],
    ['chatReact', { messageId: uuid, emoji: '👩‍💻', add: false }],
    ['chatReact', { messageId: uuid, emoji: '🇫🇷', add: true }],
    ['chatReact', { messageId: uuid, emoji: '1️⃣', add: true }],
    ['chatReact', { messageId: uuid, emoji: '👋🏽', add: true }],
    ['chatReact', { messageId: uuid, emoji: '❤️', add: true }],
    ['chatSearch', { query: 'meet' }],
    ['chatSearch', { query: 'Grüße aus München', beforeSeq: '42', limit: 50 }],
    ['setRoomLocked', { locked: true }],
    ['admit', { peerId: 'p1' }],
    ['refuse', { peerId: 'p1' }],
    ['removeParticipant', { peerId: 'p1' }],
    ['muteParticipant', { peerId: 'p1', source: 'mic' }],
    ['muteParticipant', { peerId: 'p1', source: 'webcam' }],
    ['setRole', { peerId: 'p1', role: 'host' }],
    ['setRole', { peerId: 'p1', role: 'member' }],
    ['endMeeting', {}],
    ['raiseHand', {}],
    ['lowerHand', {}],
    ['lowerHand', { peerId: 'p1' }],
  ];

  test('every request method has a valid example here', () => {
    assert.deepEqual(new Set(valid.map(([method]) => method)), new Set(Object.keys(requests)));
  });

  for (const [method, data] of valid) {
    test(`accepts a valid ${method} request`, () => {
      const result = validateRequest(method, data);
      assert.ok(result.ok, result.ok ? '' : result.reason);
      assert.equal(result.data.method, method);
      assert.deepEqual(result.data.data, data);
    });
  }

  test('treats missing data (undefined or null) as an empty object', () => {
    for (const data of [undefined, null]) {
      const result = validateRequest('getRouterRtpCapabilities', data);
      assert.ok(result.ok);
      assert.deepEqual(result.data.data, {});
    }
    assertRejected(validateRequest('join', null), /invalid join request/, /displayName/, /rtpCapabilities/);
  });

  test('trims the display name of a join request', () => {
    const result = validateRequest('join', { displayName: '  Bob  ', rtpCapabilities });
    assert.ok(result.ok);
    assert.equal(result.data.method, 'join');
    if (result.data.method === 'join') assert.equal(result.data.data.displayName, 'Bob');
  });

  test('rejects unknown methods, including Object.prototype names', () => {
    for (const method of ['nope', 'JOIN', '', 'toString', 'constructor', '__proto__', 'hasOwnProperty']) {
      const reason = assertRejected(validateRequest(method, {}), /unknown method/);
      assert.ok(reason.includes(`"${method}"`), reason);
      assert.equal(isRequestMethod(method), false);
    }
  });

  test('cuts a very long unknown method name in the reason', () => {
    const reason = assertRejected(validateRequest('x'.repeat(10_000), {}), /unknown method/);
    assert.ok(reason.length < 200, `reason is ${reason.length} characters`);
  });

  test('rejects wrong types and names the field', () => {
    assertRejected(
      validateRequest('join', { displayName: 42, rtpCapabilities }),
      /^invalid join request: /,
      /displayName/,
      /expected string/,
    );
    assertRejected(validateRequest('join', { displayName: 'A', rtpCapabilities: 'all' }), /rtpCapabilities/);
    assertRejected(
      validateRequest('join', { displayName: 'A', rtpCapabilities: { codecs: [{ kind: 'smell' }] } }),
      /rtpCapabilities\.codecs\.0/,
    );
    assertRejected(validateRequest('createWebRtcTransport', { direction: 'sideways' }), /direction/);
    assertRejected(
      validateRequest('createWebRtcTransport', { direction: 'send', forceTcp: 'yes' }),
      /forceTcp/,
    );
    assertRejected(validateRequest('consume', { transportId: 1, producerId: 'p' }), /transportId/);
    assertRejected(validateRequest('pauseProducer', { producerId: '' }), /producerId/);
    assertRejected(validateRequest('resumeConsumer', { consumerId: 'x'.repeat(65) }), /consumerId/);
    assertRejected(
      validateRequest('produce', { transportId: 't', kind: 'smell', rtpParameters, source: 'mic' }),
      /kind/,
    );
    assertRejected(
      validateRequest('produce', { transportId: 't', kind: 'audio', rtpParameters, source: 'radio' }),
      /source/,
    );
    assertRejected(
      validateRequest('produce', {
        transportId: 't',
        kind: 'audio',
        rtpParameters: { ...rtpParameters, codecs: [] },
        source: 'mic',
      }),
      /rtpParameters\.codecs/,
    );
    assertRejected(
      validateRequest('connectWebRtcTransport', { transportId: 't', dtlsParameters: { fingerprints: [] } }),
      /dtlsParameters\.fingerprints/,
    );
    assertRejected(
      validateRequest('connectWebRtcTransport', {
        transportId: 't',
        dtlsParameters: { ...dtlsParameters, role: 'boss' },
      }),
      /dtlsParameters\.role/,
    );
  });

  test('rejects data that is not an object', () => {
    for (const data of [42, 'join', true, []]) {
      assertRejected(validateRequest('getRouterRtpCapabilities', data), /invalid getRouterRtpCapabilities/);
      assertRejected(validateRequest('createWebRtcTransport', data), /invalid createWebRtcTransport/);
    }
  });

  test('rejects extra fields (request schemas are strict)', () => {
    assertRejected(validateRequest('getRouterRtpCapabilities', { foo: 1 }), /foo/, /[Uu]nrecognized/);
    assertRejected(validateRequest('leave', { now: true }), /now/);
    assertRejected(validateRequest('join', { displayName: 'A', rtpCapabilities, admin: true }), /admin/);
    assertRejected(validateRequest('createWebRtcTransport', { direction: 'send', port: 1 }), /port/);
    assertRejected(validateRequest('consume', { transportId: 't', producerId: 'p', peerId: 'x' }), /peerId/);
    assertRejected(
      validateRequest('produce', { transportId: 't', kind: 'audio', rtpParameters, source: 'mic', ssrc: 1 }),
      /ssrc/,
    );
  });

  test('refuses NUL, 64-bit overflow and out-of-range numbers before any database or worker sees them', () => {
    assertRejected(
      validateRequest('chatSend', { clientId: 'client-0001', text: 'a\u0000b' }),
      /text/,
      /control/,
    );
    assertRejected(validateRequest('chatEdit', { messageId: uuid, text: 'x\u0007' }), /control/);
    assert.equal(validateRequest('chatSend', { clientId: 'client-0001', text: 'line\nnext\ttab' }).ok, true);
    assertRejected(validateRequest('chatHistory', { beforeSeq: '9223372036854775808' }), /2\^63-1/);
    assertRejected(validateRequest('chatHistory', { beforeSeq: 'abc' }), /decimal string/);
    assertRejected(validateRequest('chatMarkRead', { seq: '9999999999999999999' }), /2\^63-1/);
    assertRejected(validateRequest('restartIce', { transportId: 't\u0000' }), /transportId/);
    assertRejected(validateRequest('consume', { transportId: 't 1', producerId: 'p' }), /transportId/);
    const withCodec = (codec: object) => ({
      transportId: 't',
      kind: 'audio',
      source: 'mic',
      rtpParameters: { ...rtpParameters, codecs: [{ ...rtpParameters.codecs[0], ...codec }] },
    });
    assertRejected(validateRequest('produce', withCodec({ payloadType: 128 })), /payloadType/);
    assertRejected(validateRequest('produce', withCodec({ clockRate: 2 ** 53 })), /clockRate/);
    assertRejected(
      validateRequest('produce', withCodec({ parameters: { a: { b: { c: 1 } } } })),
      /parameters/,
    );
    const encodings = (encoding: object) => ({
      transportId: 't',
      kind: 'video',
      source: 'webcam',
      rtpParameters: { ...rtpParameters, encodings: [encoding] },
    });
    assertRejected(validateRequest('produce', encodings({ ssrc: 2 ** 32 })), /ssrc/);
    assertRejected(validateRequest('produce', encodings({ ssrc: -1 })), /ssrc/);
    assertRejected(validateRequest('produce', encodings({ ssrc: 1, deep: { nested: [1] } })), /deep/);
    assertRejected(validateRequest('produce', encodings({ rid: 'r\u0000' })), /rid/);
  });

  test('refuses unknown keys at every depth of client-supplied media dictionaries', () => {
    assertRejected(
      validateRequest('produce', {
        transportId: 't',
        kind: 'audio',
        source: 'mic',
        rtpParameters: { ...rtpParameters, rtcp: { cname: 'x', extra: 1 } },
      }),
      /rtcp/,
    );
    assertRejected(
      validateRequest('join', {
        displayName: 'A',
        rtpCapabilities: { ...rtpCapabilities, codecs: [{ ...rtpCapabilities.codecs[0], x: {} }] },
      }),
      /codecs/,
    );
    assertRejected(
      validateRequest('connectWebRtcTransport', {
        transportId: 't',
        dtlsParameters: { ...dtlsParameters, fingerprints: [{ algorithm: 'md5', value: 'AB:CD' }] },
      }),
      /fingerprints/,
    );
  });

  test('rejects missing fields and names each of them', () => {
    assertRejected(validateRequest('join', {}), /displayName/, /rtpCapabilities/);
    assertRejected(validateRequest('join', { displayName: 'A' }), /rtpCapabilities/);
    assertRejected(validateRequest('createWebRtcTransport', {}), /direction/);
    assertRejected(validateRequest('connectWebRtcTransport', { transportId: 't' }), /dtlsParameters/);
    assertRejected(validateRequest('consume', { transportId: 't' }), /producerId/);
    assertRejected(
      validateRequest('produce', { transportId: 't', kind: 'audio', source: 'mic' }),
      /rtpParameters/,
    );
    assertRejected(validateRequest('restartIce', {}), /transportId/);
  });

  test('rejects an invalid display name with its rule', () => {
    assertRejected(validateRequest('join', { displayName: '   ', rtpCapabilities }), /display name is empty/);
    assertRejected(
      validateRequest('join', { displayName: 'x'.repeat(41), rtpCapabilities }),
      /display name is longer than 40/,
    );
    assertRejected(
      validateRequest('join', { displayName: 'a\u0000b', rtpCapabilities }),
      /display name contains control characters/,
    );
  });

  test('validates chat requests with readable reasons', () => {
    assertRejected(
      validateRequest('chatSend', { clientId: 'client-0001', text: '   ' }),
      /needs text or an attachment/,
    );
    assertRejected(validateRequest('chatSend', { clientId: 'short', text: 'hi' }), /clientId/);
    assertRejected(validateRequest('chatSend', { clientId: 'client 0001', text: 'hi' }), /clientId/);
    assertRejected(
      validateRequest('chatSend', { clientId: 'client-0001', text: 'x'.repeat(4001) }),
      /at most 4000 characters/,
    );
    assertRejected(
      validateRequest('chatSend', { clientId: 'client-0001', text: 'hi', recipientId: 'bob' }),
      /recipientId/,
    );
    assertRejected(validateRequest('chatHistory', { limit: 0 }), /limit/);
    assertRejected(validateRequest('chatHistory', { limit: 101 }), /limit/);
    assertRejected(validateRequest('chatHistory', { beforeSeq: 42 }), /beforeSeq/);
    assertRejected(validateRequest('chatMarkRead', { seq: '-1' }), /seq must be a decimal string/);
    assertRejected(validateRequest('chatMarkRead', { seq: '1'.repeat(20) }), /seq/);
    assertRejected(validateRequest('chatEdit', { messageId: uuid, text: ' ' }), /text is empty/);
    assertRejected(validateRequest('chatDelete', { messageId: uuid, hard: true }), /hard/);
    assertRejected(validateRequest('setPresence', { away: 'yes' }), /away/);

    const trimmed = validateRequest('chatSend', { clientId: 'client-0001', text: '  hi  ' });
    assert.ok(trimmed.ok);
    assert.deepEqual(trimmed.data.data, { clientId: 'client-0001', text: 'hi' });
  });

  test('lists at most five issues in one line', () => {
    const reason = assertRejected(
      validateRequest('produce', { a: 1, b: 2, c: 3, d: 4, e: 5, f: 6, g: 7 }),
      /invalid produce request/,
    );
    assert.ok(!reason.includes('\n'), 'one line');
    assert.ok(reason.split('; ').length <= 5, reason);
  });
});

describe('parseEnvelope', () => {
  test('accepts a protoo request, response and notification', () => {
    const request = parseEnvelope(JSON.stringify({ request: true, id: 7, method: 'join', data: { a: 1 } }));
    assert.ok(request.ok);
    assert.deepEqual(request.data, { request: true, id: 7, method: 'join', data: { a: 1 } });

    const withoutData = parseEnvelope(JSON.stringify({ request: true, id: 8, method: 'leave' }));
    assert.ok(withoutData.ok);
    assert.equal(withoutData.data.data, undefined);

    const ok = parseEnvelope(JSON.stringify({ response: true, id: 1, ok: true, data: {} }));
    assert.ok(ok.ok);
    assert.ok('response' in ok.data && ok.data.ok === true);

    const error = parseEnvelope(
      JSON.stringify({ response: true, id: 2, ok: false, errorCode: 400, errorReason: 'no' }),
    );
    assert.ok(error.ok);
    assert.ok('response' in error.data && error.data.errorReason === 'no');

    const notification = parseEnvelope(
      JSON.stringify({ notification: true, method: 'hello', data: { x: 1 } }),
    );
    assert.ok(notification.ok);
    assert.deepEqual(notification.data, { notification: true, method: 'hello', data: { x: 1 } });
  });

  test('rejects bad JSON with the parser message and no id', () => {
    for (const raw of ['{bad', '', '{"request":true,', 'undefined']) {
      const result = parseEnvelope(raw);
      assertRejected(result, /^invalid JSON: ./);
      assert.equal(result.id, undefined);
    }
  });

  test('rejects JSON that is not an object', () => {
    for (const raw of [
      '[]',
      '[{"request":true,"id":1,"method":"join"}]',
      '42',
      '"request"',
      'null',
      'true',
    ]) {
      const result = parseEnvelope(raw);
      assertRejected(result, /not a protoo request, response or notification/);
      assert.equal(result.id, undefined, raw);
    }
  });

  test('rejects objects that are not protoo messages, keeping a numeric id for the answer', () => {
    const cases: Array<[unknown, number | undefined]> = [
      [{}, undefined],
      [{ hello: 'world' }, undefined],
      [{ request: true, method: 'join' }, undefined],
      [{ request: true, id: '1', method: 'join' }, undefined],
      [{ request: 'yes', id: 3, method: 'join' }, 3],
      [{ request: true, id: 4, method: 42 }, 4],
      [{ request: true, id: 5 }, 5],
      [{ request: true, id: 6, method: 'x'.repeat(129) }, 6],
      [{ request: true, id: 1.5, method: 'join' }, 1.5],
      [{ response: true, id: 9 }, 9],
      [{ notification: true }, undefined],
    ];
    for (const [message, id] of cases) {
      const result = parseEnvelope(JSON.stringify(message));
      assertRejected(result, /not a protoo request, response or notification/);
      assert.equal(result.id, id, JSON.stringify(message));
    }
  });
});

describe('roomIdSchema', () => {
  test('accepts lowercase letters, digits and inner dashes up to 64 characters', () => {
    for (const id of ['a', '7', 'team', 'amber-otter-4821', 'a-b', 'a--b', '0-0', 'x'.repeat(64)]) {
      assert.equal(roomIdSchema.safeParse(id).success, true, id);
    }
  });

  test('rejects empty, too long, uppercase, spaces, symbols and outer dashes with a reason', () => {
    const cases: Array<[unknown, RegExp]> = [
      ['', /room id is empty/],
      ['x'.repeat(65), /longer than 64/],
      ['Team', /only a-z, 0-9 and inner dashes/],
      ['bad id', /only a-z/],
      ['a_b', /only a-z/],
      ['-a', /only a-z/],
      ['a-', /only a-z/],
      ['-', /only a-z/],
      ['a/../b', /only a-z/],
      ['caf\u00e9', /only a-z/],
      ['a\nb', /only a-z/],
      [42, /expected string/],
      [undefined, /expected string/],
    ];
    for (const [id, reason] of cases) {
      const result = roomIdSchema.safeParse(id);
      assert.equal(result.success, false, JSON.stringify(id));
      assert.match(result.error?.issues.map((i) => i.message).join('; ') ?? '', reason, JSON.stringify(id));
    }
  });
});

describe('displayNameSchema', () => {
  test('accepts names and trims surrounding spaces', () => {
    assert.equal(displayNameSchema.parse('Alice'), 'Alice');
    assert.equal(displayNameSchema.parse('  Zoë Ä. O\u2019Brien  '), 'Zoë Ä. O\u2019Brien');
    assert.equal(displayNameSchema.parse('x'.repeat(40)), 'x'.repeat(40));
    assert.equal(
      displayNameSchema.parse(`  ${'y'.repeat(40)}\t`),
      'y'.repeat(40),
      'length counts after trimming',
    );
  });

  test('rejects empty, blank, too long, control characters and non-strings with a reason', () => {
    const cases: Array<[unknown, RegExp]> = [
      ['', /display name is empty/],
      [' \t ', /display name is empty/],
      ['x'.repeat(41), /longer than 40/],
      ['a\u0007b', /control characters/],
      ['line\nbreak', /control characters/],
      ['del\u007f', /control characters/],
      [42, /expected string/],
      [null, /expected string/],
    ];
    for (const [name, reason] of cases) {
      const result = displayNameSchema.safeParse(name);
      assert.equal(result.success, false, JSON.stringify(name));
      assert.match(result.error?.issues.map((i) => i.message).join('; ') ?? '', reason, JSON.stringify(name));
    }
  });
});

describe('randomRoomId', () => {
  test('maps random bytes to 20 symbols of 5 bits in groups of four', () => {
    assert.equal(
      randomRoomId((bytes) => bytes.fill(0)),
      '0000-0000-0000-0000-0000',
    );
    assert.equal(
      randomRoomId((bytes) => bytes.fill(255)),
      'zzzz-zzzz-zzzz-zzzz-zzzz',
    );
    assert.equal(
      randomRoomId((bytes) => bytes.map((_, i) => i)),
      '0123-4567-89ab-cdef-ghjk',
    );
  });

  test('draws from the CSPRNG: valid, unique ids using the whole alphabet', () => {
    const seen = new Set<string>();
    const symbols = new Set<string>();
    for (let i = 0; i < 2000; i++) {
      const id = randomRoomId();
      assert.match(id, /^[0-9a-hjkmnp-tv-z]{4}(?:-[0-9a-hjkmnp-tv-z]{4}){4}$/);
      assert.equal(roomIdSchema.safeParse(id).success, true, id);
      seen.add(id);
      for (const c of id.replaceAll('-', '')) symbols.add(c);
    }
    assert.equal(seen.size, 2000);
    assert.equal(symbols.size, 32);
  });
});

describe('host requests and the join answer', () => {
  test('refuse what hosts cannot do: other sources, other roles, extra keys', () => {
    assertRejected(validateRequest('muteParticipant', { peerId: 'p1', source: 'screen' }), /source/);
    assertRejected(validateRequest('muteParticipant', { peerId: 'p1' }), /source/);
    assertRejected(validateRequest('setRole', { peerId: 'p1', role: 'owner' }), /role/);
    assertRejected(validateRequest('setRoomLocked', { locked: 'yes' }), /locked/);
    assertRejected(validateRequest('admit', {}), /peerId/);
    assertRejected(validateRequest('endMeeting', { everyone: true }), /everyone|unrecognized/i);
    assertRejected(validateRequest('lowerHand', { peerId: 'p1', all: true }), /all|unrecognized/i);
  });

  test('join answers joined (with the room controls) or waiting (in the lobby)', () => {
    const response = requests.join.response;
    const peerId = 'p1';
    assert.ok(response.safeParse({ status: 'waiting', peerId, identityId: uuid }).success);
    const joined = {
      status: 'joined',
      peerId,
      identityId: uuid,
      displayName: 'Ada',
      peers: [],
      role: 'host',
      locked: true,
      hands: [{ peerId: 'p2', raisedAt: new Date().toISOString() }],
      lobby: [{ peerId: 'p3', identityId: uuid, displayName: 'Knock', since: new Date().toISOString() }],
      selfStatus: 'available',
      activeSpeaker: null,
    };
    assert.ok(response.safeParse(joined).success);
    assert.ok(response.safeParse({ ...joined, activeSpeaker: 'p2' }).success);
    assert.equal(
      response.safeParse({ ...joined, activeSpeaker: undefined }).success,
      false,
      'a joined answer says who speaks (or null)',
    );
    assert.equal(
      response.safeParse({ ...joined, role: undefined }).success,
      false,
      'a joined answer has a role',
    );
    assert.equal(
      response.safeParse({ ...joined, displayName: undefined }).success,
      false,
      'a joined answer says the name the participant appears under',
    );
    assert.equal(response.safeParse({ status: 'pending', peerId, identityId: uuid }).success, false);
  });
});
