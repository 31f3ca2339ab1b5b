// Dispatches a peer's signaling request: validates it against the shared protocol, checks
// the peer's state, and calls the handler of that method.
import type { types } from 'mediasoup';
import {
  ErrorCode,
  validateRequest,
  type RequestData,
  type RequestMethod,
  type ResponseData,
} from '@meet/protocol';
import { SignalingError, conflict, forbidden, tooMany } from '../signaling/errors.js';
import { peerInfo, type Peer } from '../peer/peer.js';
import { connectWebRtcTransport, createWebRtcTransport, restartIce } from '../media/transport.js';
import { closeProducer, pauseProducer, produce, resumeProducer } from '../media/producer.js';
import { consume, pauseConsumer, resumeConsumer } from '../media/consumer.js';
import type { Room } from './room.js';

type Handlers = {
  [M in RequestMethod]: (
    room: Room,
    peer: Peer,
    data: RequestData<M>,
  ) => ResponseData<M> | Promise<ResponseData<M>>;
};

/** Methods a peer may call before it has joined. */
const beforeJoin = new Set<RequestMethod>(['getRouterRtpCapabilities', 'join', 'leave']);

const handlers: Handlers = {
  getRouterRtpCapabilities: (room) => room.router.rtpCapabilities as ResponseData<'getRouterRtpCapabilities'>,
  join: (room, peer, { displayName, rtpCapabilities }) => {
    if (peer.joined) throw conflict('already joined');
    if (room.joinedPeers().length >= room.maxPeers)
      throw tooMany(`room is full (${room.maxPeers} participants)`);
    peer.displayName = displayName;
    peer.rtpCapabilities = rtpCapabilities as types.RtpCapabilities;
    const others = room.joinedPeers().map(peerInfo);
    peer.joined = true;
    room.broadcast('peerJoined', { id: peer.id, displayName }, peer.id);
    peer.log.info({ displayName, peers: others.length + 1 }, 'peer joined');
    return { peerId: peer.id, peers: others };
  },
  createWebRtcTransport: (room, peer, data) => createWebRtcTransport(room, peer, data),
  connectWebRtcTransport: (_room, peer, data) => connectWebRtcTransport(peer, data),
  getIceServers: (room, peer) => room.iceConfig(peer),
  restartIce: (_room, peer, data) => restartIce(peer, data),
  produce: (room, peer, data) => produce(room, peer, data),
  pauseProducer: (room, peer, data) => pauseProducer(room, peer, data),
  resumeProducer: (room, peer, data) => resumeProducer(room, peer, data),
  closeProducer: (_room, peer, data) => closeProducer(peer, data),
  consume: (room, peer, data) => consume(room, peer, data),
  resumeConsumer: (_room, peer, data) => resumeConsumer(peer, data),
  pauseConsumer: (_room, peer, data) => pauseConsumer(peer, data),
  leave: (room, peer) => {
    // Answer first, then close the socket.
    setImmediate(() => room.leave(peer));
    return {};
  },
};

export async function handleRequest(room: Room, peer: Peer, method: string, data: unknown): Promise<unknown> {
  const valid = validateRequest(method, data);
  if (!valid.ok) {
    peer.log.debug({ method, reason: valid.reason }, 'request rejected');
    throw new SignalingError(valid.code, valid.reason);
  }
  const request = valid.data;
  if (!peer.joined && !beforeJoin.has(request.method))
    throw forbidden(`join the room before ${request.method}`);
  try {
    const handler = handlers[request.method] as (room: Room, peer: Peer, data: unknown) => unknown;
    return await handler(room, peer, request.data);
  } catch (error) {
    if (error instanceof SignalingError) throw error;
    // mediasoup rejects semantically invalid parameters with TypeError/UnsupportedError.
    const name = (error as Error).name;
    const code =
      name === 'TypeError' || name === 'UnsupportedError' ? ErrorCode.BadRequest : ErrorCode.Internal;
    peer.log.warn({ method, err: error }, 'request failed');
    throw new SignalingError(code, `${method} failed: ${(error as Error).message}`);
  }
}
