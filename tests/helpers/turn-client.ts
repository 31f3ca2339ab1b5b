// A minimal TURN client (RFC 5766 Allocate with long-term credentials, RFC 5389 STUN
// encoding) to check what coturn accepts. Only what the tests need: UDP, one allocation.
import { createHash, createHmac, randomBytes } from 'node:crypto';
import dgram from 'node:dgram';

const MAGIC_COOKIE = 0x2112a442;
const ALLOCATE_REQUEST = 0x0003;
const ALLOCATE_SUCCESS = 0x0103;
const ALLOCATE_ERROR = 0x0113;
const BINDING_REQUEST = 0x0001;
const BINDING_SUCCESS = 0x0101;
const ATTR = {
  username: 0x0006,
  messageIntegrity: 0x0008,
  errorCode: 0x0009,
  realm: 0x0014,
  nonce: 0x0015,
  requestedTransport: 0x0019,
  xorRelayedAddress: 0x0016,
} as const;

/** One STUN attribute, padded to 4 bytes. */
export function stunAttribute(type: number, value: Buffer): Buffer {
  const padded = Buffer.alloc(4 + Math.ceil(value.length / 4) * 4);
  padded.writeUInt16BE(type, 0);
  padded.writeUInt16BE(value.length, 2);
  value.copy(padded, 4);
  return padded;
}

/** A STUN message with a random transaction id; MESSAGE-INTEGRITY last when a key is given. */
export function stunMessage(type: number, attributes: Buffer[], integrityKey?: Buffer): Buffer {
  const header = Buffer.alloc(20);
  header.writeUInt16BE(type, 0);
  header.writeUInt32BE(MAGIC_COOKIE, 4);
  randomBytes(12).copy(header, 8);
  let body = Buffer.concat(attributes);
  if (integrityKey) {
    // The length covers the MESSAGE-INTEGRITY attribute (24 bytes) that follows.
    header.writeUInt16BE(body.length + 24, 2);
    const mac = createHmac('sha1', integrityKey)
      .update(Buffer.concat([header, body]))
      .digest();
    body = Buffer.concat([body, stunAttribute(ATTR.messageIntegrity, mac)]);
  }
  header.writeUInt16BE(body.length, 2);
  return Buffer.concat([header, body]);
}

function parse(packet: Buffer): { type: number; attrs: Map<number, Buffer> } {
  const type = packet.readUInt16BE(0);
  const length = packet.readUInt16BE(2);
  const attrs = new Map<number, Buffer>();
  let offset = 20;
  while (offset + 4 <= 20 + length) {
    const attrType = packet.readUInt16BE(offset);
    const attrLength = packet.readUInt16BE(offset + 2);
    attrs.set(attrType, packet.subarray(offset + 4, offset + 4 + attrLength));
    offset += 4 + Math.ceil(attrLength / 4) * 4;
  }
  return { type, attrs };
}

function exchange(socket: dgram.Socket, host: string, port: number, packet: Buffer, timeoutMs = 3000) {
  return new Promise<ReturnType<typeof parse>>((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.off('message', onMessage);
      reject(new Error(`no answer from ${host}:${port}`));
    }, timeoutMs);
    const onMessage = (data: Buffer) => {
      if (data.subarray(8, 20).equals(packet.subarray(8, 20))) {
        clearTimeout(timer);
        socket.off('message', onMessage);
        resolve(parse(data));
      }
    };
    socket.on('message', onMessage);
    socket.send(packet, port, host);
  });
}

export type AllocateResult = { ok: true } | { ok: false; code: number; reason: string };

/** Tries to allocate a UDP relay with the given TURN credentials. */
export async function tryAllocate(
  host: string,
  port: number,
  username: string,
  password: string,
): Promise<AllocateResult> {
  const socket = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  try {
    const transport = stunAttribute(ATTR.requestedTransport, Buffer.from([17, 0, 0, 0]));
    const challenge = await exchange(socket, host, port, stunMessage(ALLOCATE_REQUEST, [transport]));
    const realm = challenge.attrs.get(ATTR.realm);
    const nonce = challenge.attrs.get(ATTR.nonce);
    if (challenge.type !== ALLOCATE_ERROR || !realm || !nonce)
      throw new Error('expected a 401 challenge with realm and nonce');
    const key = createHash('md5').update(`${username}:${realm.toString()}:${password}`).digest();
    const answer = await exchange(
      socket,
      host,
      port,
      stunMessage(
        ALLOCATE_REQUEST,
        [
          transport,
          stunAttribute(ATTR.username, Buffer.from(username)),
          stunAttribute(ATTR.realm, realm),
          stunAttribute(ATTR.nonce, nonce),
        ],
        key,
      ),
    );
    if (answer.type === ALLOCATE_SUCCESS && answer.attrs.has(ATTR.xorRelayedAddress)) return { ok: true };
    const error = answer.attrs.get(ATTR.errorCode);
    const code = error ? (error[2] as number) * 100 + (error[3] as number) : 0;
    return {
      ok: false,
      code,
      reason: error ? error.subarray(4).toString() : `unexpected message type ${answer.type}`,
    };
  } finally {
    socket.close();
  }
}

/** Resolves once a STUN binding request to host:port is answered. */
export async function waitForStun(host: string, port: number, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const socket = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  try {
    for (;;) {
      try {
        const answer = await exchange(socket, host, port, stunMessage(BINDING_REQUEST, []), 500);
        if (answer.type === BINDING_SUCCESS) return;
      } catch (error) {
        if (Date.now() > deadline) throw error;
      }
    }
  } finally {
    socket.close();
  }
}
