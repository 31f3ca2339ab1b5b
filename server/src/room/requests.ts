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
import { closePeerMedia, peerInfo, presenceKey, type Peer } from '../peer/peer.js';
import { ensureMembership } from '../chat/membership.js';
import { deleteMessage, editMessage, history, markRead, prepareSend, readMarker } from '../chat/messages.js';
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

function checkCanJoin(room: Room, peer: Peer): void {
  if (peer.joined) throw conflict('already joined');
  if (room.joinedPeers().length >= room.maxPeers)
    throw tooMany(`room is full (${room.maxPeers} participants)`);
}

const handlers: Handlers = {
  getRouterRtpCapabilities: (room) => room.router.rtpCapabilities as ResponseData<'getRouterRtpCapabilities'>,
  join: async (room, peer, { displayName, rtpCapabilities }) => {
    checkCanJoin(room, peer);
    await ensureMembership(room.db, room.id, peer.identity.id, displayName);
    // Checked again after the await: the peer may have gone, or joined twice meanwhile.
    if (peer.protoo.closed || room.peers.get(peer.id) !== peer) throw conflict('disconnected while joining');
    checkCanJoin(room, peer);
    peer.displayName = displayName;
    peer.rtpCapabilities = rtpCapabilities as types.RtpCapabilities;
    const others = room.joinedPeers().map(peerInfo);
    peer.joined = true;
    peer.announcedStatus = presenceKey(peer);
    const { producers: _none, ...info } = peerInfo(peer);
    room.broadcast('peerJoined', info, peer.id);
    peer.log.info({ displayName, peers: others.length + 1 }, 'peer joined');
    return { peerId: peer.id, identityId: peer.identity.id, peers: others };
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
  leaveCall: (room, peer) => {
    closePeerMedia(peer);
    room.refreshStatus(peer);
    return {};
  },
  chatSend: async (room, peer, data) => {
    const prepared = await prepareSend(room.db, {
      roomId: room.id,
      authorId: peer.identity.id,
      clientId: data.clientId,
      text: data.text,
      recipientId: data.recipientId,
      attachmentId: data.attachmentId,
    });
    if (prepared.existing) return { message: prepared.existing };
    // Stored (committed) before anyone hears of it, and announced in seq order; a retried
    // send is not announced twice.
    return room.serializeChat(async () => {
      const { message, created } = await prepared.store();
      if (!created) return { message };
      room.metrics.chatMessageStored(message.recipient !== null);
      room.broadcastChat('chatMessage', message, peer.id);
      return { message };
    });
  },
  chatHistory: async (room, peer, { beforeSeq, limit }) => {
    const page = await history(room.db, room.id, peer.identity.id, beforeSeq, limit ?? 50);
    const lastReadSeq = await readMarker(room.db, room.id, peer.identity.id);
    return { ...page, lastReadSeq };
  },
  chatEdit: async (room, peer, { messageId, text }) => {
    const message = await editMessage(room.db, room.id, peer.identity.id, messageId, text);
    room.broadcastChat('chatMessageUpdated', message, peer.id);
    return { message };
  },
  chatDelete: async (room, peer, { messageId }) => {
    const message = await deleteMessage(room.db, room.id, peer.identity.id, messageId);
    room.broadcastChat('chatMessageUpdated', message, peer.id);
    return { message };
  },
  chatMarkRead: async (room, peer, { seq }) => ({
    lastReadSeq: await markRead(room.db, room.id, peer.identity.id, seq),
  }),
  setPresence: (room, peer, { away }) => {
    peer.away = away;
    room.refreshStatus(peer);
    return {};
  },
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
