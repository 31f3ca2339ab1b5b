// Just enough ICE to connect a mediasoup WebRTC transport from a test: a STUN Binding
// request (RFC 5389) with the transport's ICE credentials, sent over TCP (RFC 4571
// framing) to its WebRtcServer port. mediasoup answers, and the transport's ICE state
// becomes 'completed'; closing the TCP connection then takes it to 'disconnected'. Then
// other packets sent on that connection reach the transport (and its byte counters).
import { createHmac, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import net from 'node:net';
import { crc32 } from 'node:zlib';

const magicCookie = 0x2112a442;

function attribute(type: number, value: Buffer): Buffer {
  const padded = Buffer.alloc(4 + Math.ceil(value.length / 4) * 4);
  padded.writeUInt16BE(type, 0);
  padded.writeUInt16BE(value.length, 2);
  value.copy(padded, 4);
  return padded;
}

/** A Binding request from an ICE-controlling agent that nominates the pair (USE-CANDIDATE). */
export function bindingRequest(ice: { usernameFragment: string; password: string }): Buffer {
  const header = Buffer.alloc(20);
  header.writeUInt16BE(0x0001, 0);
  header.writeUInt32BE(magicCookie, 4);
  randomBytes(12).copy(header, 8);
  const priority = Buffer.alloc(4);
  priority.writeUInt32BE(0x6e0001ff);
  let body = Buffer.concat([
    attribute(0x0006, Buffer.from(`${ice.usernameFragment}:testclient`)), // USERNAME
    attribute(0x0024, priority), // PRIORITY
    attribute(0x802a, randomBytes(8)), // ICE-CONTROLLING
    attribute(0x0025, Buffer.alloc(0)), // USE-CANDIDATE
  ]);
  // MESSAGE-INTEGRITY over the message with a length that already counts it (24 bytes).
  header.writeUInt16BE(body.length + 24, 2);
  const integrity = createHmac('sha1', ice.password)
    .update(Buffer.concat([header, body]))
    .digest();
  body = Buffer.concat([body, attribute(0x0008, integrity)]);
  // FINGERPRINT (8 bytes) last: CRC-32 of everything before it, XOR 0x5354554e.
  header.writeUInt16BE(body.length + 8, 2);
  const fingerprint = Buffer.alloc(4);
  fingerprint.writeUInt32BE((crc32(Buffer.concat([header, body])) ^ 0x5354554e) >>> 0);
  return Buffer.concat([header, body, attribute(0x8028, fingerprint)]);
}

function frame(packet: Buffer): Buffer {
  const framed = Buffer.alloc(2 + packet.length);
  framed.writeUInt16BE(packet.length, 0);
  packet.copy(framed, 2);
  return framed;
}

/**
 * Sends `size` bytes that look like an RTP packet on an ICE-connected TCP connection: the
 * transport counts them as received, then drops them (its DTLS is not connected).
 */
export function sendRtpLikeOverTcp(socket: net.Socket, size: number): void {
  const packet = Buffer.alloc(size);
  packet[0] = 0x80; // RTP version 2
  packet[1] = 100; // payload type 100 (not an RTCP packet type)
  socket.write(frame(packet));
}

/** Sends a Binding request on the TCP connection; resolves with the bytes of request and response. */
export async function stunOverTcp(
  socket: net.Socket,
  ice: { usernameFragment: string; password: string },
): Promise<{ requestBytes: number; responseBytes: number }> {
  const request = bindingRequest(ice);
  const responseBytes = await new Promise<number>((resolve, reject) => {
    let received = Buffer.alloc(0);
    const timer = setTimeout(() => done(new Error('no STUN response over TCP')), 5000);
    const onData = (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      if (received.length < 2 || received.length < 2 + received.readUInt16BE(0)) return;
      const type = received.readUInt16BE(2);
      if (type === 0x0101) done(undefined, received.readUInt16BE(0));
      else done(new Error(`STUN answered with type 0x${type.toString(16)}`));
    };
    const done = (error: Error | undefined, length = 0) => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('error', done);
      if (error) reject(error);
      else resolve(length);
    };
    socket.on('data', onData);
    socket.once('error', done);
    socket.write(frame(request));
  });
  return { requestBytes: request.length, responseBytes };
}

/**
 * Connects over TCP to a WebRtcServer port and sends a Binding request for the transport;
 * resolves with the socket once the success response arrives.
 */
export async function connectIceOverTcp(
  port: number,
  ice: { usernameFragment: string; password: string },
): Promise<net.Socket> {
  const socket = net.connect(port, '127.0.0.1');
  await once(socket, 'connect');
  await stunOverTcp(socket, ice);
  return socket;
}
