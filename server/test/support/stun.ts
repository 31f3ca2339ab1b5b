// Just enough ICE to connect a mediasoup WebRTC transport from a test: a STUN Binding
// request (RFC 5389) with the transport's ICE credentials, sent over TCP (RFC 4571
// framing) to its WebRtcServer port. mediasoup answers, and the transport's ICE state
// becomes 'completed'; closing the TCP connection then takes it to 'disconnected'. Then
// other packets sent on that connection reach the transport (and its byte counters).
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import net from 'node:net';
import { crc32 } from 'node:zlib';
import { stunAttribute, stunMessage } from '../../../tests/helpers/turn-client.js';

/** A Binding request from an ICE-controlling agent that nominates the pair (USE-CANDIDATE). */
export function bindingRequest(ice: { usernameFragment: string; password: string }): Buffer {
  const priority = Buffer.alloc(4);
  priority.writeUInt32BE(0x6e0001ff);
  const message = stunMessage(
    0x0001,
    [
      stunAttribute(0x0006, Buffer.from(`${ice.usernameFragment}:testclient`)), // USERNAME
      stunAttribute(0x0024, priority), // PRIORITY
      stunAttribute(0x802a, randomBytes(8)), // ICE-CONTROLLING
      stunAttribute(0x0025, Buffer.alloc(0)), // USE-CANDIDATE
    ],
    Buffer.from(ice.password),
  );
  // FINGERPRINT (8 bytes) last: CRC-32 of everything before it, with a length that already
  // counts it, XOR 0x5354554e.
  message.writeUInt16BE(message.readUInt16BE(2) + 8, 2);
  const fingerprint = Buffer.alloc(4);
  fingerprint.writeUInt32BE((crc32(message) ^ 0x5354554e) >>> 0);
  return Buffer.concat([message, stunAttribute(0x8028, fingerprint)]);
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
