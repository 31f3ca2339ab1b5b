// What each signaling request does, once the Participant has validated it and its turn
// has come (requests of one participant run one at a time). Media requests go to the
// participant's media set; membership, presence and chat go through the room.
import type { types } from 'mediasoup';
import { ErrorCode, type RequestData, type RequestMethod, type ResponseData } from '@meet/protocol';
import { SignalingError, badRequest, conflict, notFound, tooMany } from '../signaling/errors.js';
import { enterRoom } from '../chat/membership.js';
import { setStatusOf, statusOf } from '../auth/status.js';
import { deleteMessage, editMessage, history, markRead, prepareSend, readMarker } from '../chat/messages.js';
import { react } from '../chat/reactions.js';
import { searchMessages } from '../chat/search.js';
import { hostHandlers } from './host-requests.js';
import type { Participant } from './participant.js';

export type Handlers = {
  [M in RequestMethod]: (
    participant: Participant,
    data: RequestData<M>,
  ) => ResponseData<M> | Promise<ResponseData<M>>;
};

/** Methods a participant may call before it has joined. */
export const allowedBeforeJoin = new Set<RequestMethod>(['getRouterRtpCapabilities', 'join', 'leave']);

function checkCanJoin(participant: Participant): void {
  const { room } = participant;
  if (participant.joined) throw conflict('already joined');
  if (room.joinedCount() >= room.maxParticipants)
    throw tooMany(`room is full (${room.maxParticipants} participants)`);
}

/**
 * The participant's media set, for a request about one of its transports, producers or
 * consumers: without one (not in the call, or its media was reset) none of them is its own.
 */
function mediaOf(participant: Participant, what: 'transport' | 'producer' | 'consumer', id: string) {
  const media = participant.media;
  if (!media) throw notFound(`${what} ${id} is not one of this participant's ${what}s (not in the call)`);
  return media;
}

export const handlers: Handlers = {
  getRouterRtpCapabilities: (participant) =>
    participant.room.rtpCapabilities as ResponseData<'getRouterRtpCapabilities'>,

  join: async (participant, { displayName, rtpCapabilities }) => {
    const { room, identity } = participant;
    const waiting = { status: 'waiting', peerId: participant.id, identityId: identity.id } as const;
    // Asked again while in the lobby: still waiting (the answer never waits for a host).
    if (room.hosts.isWaiting(participant)) return waiting;
    checkCanJoin(participant);
    // Who is on the room's other nodes (several nodes): known before the answer lists them.
    try {
      await room.ready();
    } catch (error) {
      participant.log.warn({ err: error }, "the room's other nodes could not be reached");
      throw new SignalingError(
        ErrorCode.Unavailable,
        'the room is not reachable right now: try again shortly',
      );
    }
    let entry = await enterRoom(room.db, room.id, identity.id, displayName, participant.admitted);
    // A host unlocked the room meanwhile (and let the lobby in): so is this one.
    if (entry.waiting && room.hosts.locked === false)
      entry = await enterRoom(room.db, room.id, identity.id, displayName, true);
    // Checked again after the await: the participant may have gone, or the room filled up.
    if (participant.closed) throw conflict('disconnected while joining');
    checkCanJoin(participant);
    // A member named by a room token keeps that name, whatever the join asked for.
    participant.displayName = entry.waiting ? displayName : entry.displayName;
    if (entry.waiting) {
      if (room.hosts.lobbySize >= room.maxParticipants)
        throw tooMany(`the lobby is full (${room.maxParticipants} waiting)`);
      // Waits for a host as long as it takes: no join timeout; no request is held meanwhile.
      participant.stopJoinTimer();
      room.hosts.knock(participant);
      return waiting;
    }
    participant.rtpCapabilities = rtpCapabilities as types.RtpCapabilities;
    participant.role = entry.role;
    participant.busy = (await statusOf(room.db, identity.id)) === 'busy';
    if (participant.closed) throw conflict('disconnected while joining');
    const others = room.peersOf(participant);
    participant.joined = true;
    participant.stopJoinTimer();
    participant.presenceChanged();
    const { producers: _none, ...info } = participant.info();
    room.broadcast('peerJoined', info, participant.id);
    participant.log.info(
      { displayName: participant.displayName, participants: others.length + 1 },
      'participant joined',
    );
    return {
      status: 'joined',
      peerId: participant.id,
      identityId: identity.id,
      displayName: participant.displayName ?? displayName,
      peers: others,
      role: entry.role,
      locked: room.hosts.locked ?? entry.locked,
      hands: room.hosts.hands(),
      lobby: participant.isHost ? room.hosts.lobby() : [],
      selfStatus: participant.busy ? 'busy' : 'available',
      activeSpeaker: room.activeSpeaker,
    };
  },

  createWebRtcTransport: async (participant, data) => {
    const media = await participant.ensureMedia();
    const transport = await media.createTransport(data);
    participant.enterCall();
    return {
      id: transport.id,
      iceParameters: transport.iceParameters,
      iceCandidates: transport.iceCandidates,
      dtlsParameters: transport.dtlsParameters,
      ...participant.room.iceConfig(participant.id),
    };
  },
  connectWebRtcTransport: async (participant, data) => {
    await mediaOf(participant, 'transport', data.transportId).connectTransport(data);
    return {};
  },
  getIceServers: (participant) => participant.room.iceConfig(participant.id),
  restartIce: (participant, data) => mediaOf(participant, 'transport', data.transportId).restartIce(data),

  produce: async (participant, data) => ({
    id: (await mediaOf(participant, 'transport', data.transportId).produce(data)).id,
  }),
  pauseProducer: async (participant, { producerId }) => {
    await mediaOf(participant, 'producer', producerId).setProducerPaused(producerId, true);
    return {};
  },
  resumeProducer: async (participant, { producerId }) => {
    await mediaOf(participant, 'producer', producerId).setProducerPaused(producerId, false);
    return {};
  },
  closeProducer: (participant, { producerId }) => {
    mediaOf(participant, 'producer', producerId).closeProducer(producerId);
    return {};
  },

  consume: (participant, data) =>
    mediaOf(participant, 'transport', data.transportId).consume(
      data,
      participant.rtpCapabilities as types.RtpCapabilities,
    ),
  resumeConsumer: async (participant, { consumerId }) => {
    await mediaOf(participant, 'consumer', consumerId).setConsumerPaused(consumerId, false);
    return {};
  },
  pauseConsumer: async (participant, { consumerId }) => {
    await mediaOf(participant, 'consumer', consumerId).setConsumerPaused(consumerId, true);
    return {};
  },

  setView: async (participant, { tiles }) => {
    await participant.setView(tiles);
    return {};
  },

  leaveCall: (participant) => {
    participant.leaveCall();
    return {};
  },

  chatSend: async (participant, data) => {
    const { room } = participant;
    const prepared = await prepareSend(room.db, {
      roomId: room.id,
      authorId: participant.identity.id,
      clientId: data.clientId,
      text: data.text,
      recipientId: data.recipientId,
      attachmentId: data.attachmentId,
      mentions: data.mentions,
    });
    if (prepared.existing) return { message: prepared.existing };
    // Stored (committed, with whatever else the room sent meanwhile) before anyone hears of
    // it, and announced in seq order; a retried send is not announced twice.
    return { message: await room.chat.send(prepared.pending, participant.id) };
  },
  chatHistory: async (participant, { beforeSeq, limit }) => {
    const { room, identity } = participant;
    const page = await history(room.db, room.id, identity.id, beforeSeq, limit ?? 50);
    const lastReadSeq = await readMarker(room.db, room.id, identity.id);
    return { ...page, lastReadSeq };
  },
  chatEdit: async (participant, { messageId, text }) => {
    const { room, identity } = participant;
    const message = await editMessage(room.db, room.id, identity.id, messageId, text);
    room.broadcastChat(message, participant.id);
    return { message };
  },
  chatDelete: async (participant, { messageId }) => {
    const { room, identity } = participant;
    const message = await deleteMessage(room.db, room.id, identity.id, messageId);
    room.broadcastChat(message, participant.id);
    return { message };
  },
  chatReact: async (participant, { messageId, emoji, add }) => {
    const { room, identity } = participant;
    const { message, changed } = await react(room.db, {
      roomId: room.id,
      identityId: identity.id,
      messageId,
      emoji,
      add,
    });
    if (changed) room.broadcastChat(message, participant.id);
    return { message };
  },
  chatSearch: async (participant, { query, beforeSeq, limit }) =>
    searchMessages(participant.room.db, {
      roomId: participant.room.id,
      identityId: participant.identity.id,
      query,
      beforeSeq,
      limit: limit ?? 20,
    }),
  chatMarkRead: async (participant, { seq }) => ({
    lastReadSeq: await markRead(participant.room.db, participant.room.id, participant.identity.id, seq),
  }),
  chatTyping: (participant, { recipientId }) => {
    if (recipientId === participant.identity.id)
      throw badRequest('a private conversation is with someone else: recipientId is your own identity');
    if (participant.typingDue(recipientId ?? '')) participant.room.announceTyping(participant, recipientId);
    return {};
  },
  setStatus: async (participant, { status }) => {
    const { room, identity } = participant;
    await setStatusOf(room.db, identity.id, status);
    room.statusChanged();
    // Every connection of this person here shows it (their other rooms when they next join).
    for (const connection of room.participantsOf(identity.id)) {
      connection.busy = status === 'busy';
      room.refreshPresence(connection);
    }
    return {};
  },
  setPresence: (participant, { away }) => {
    participant.away = away;
    participant.room.refreshPresence(participant);
    return {};
  },
  leave: (participant) => {
    // Answer first, then close the socket.
    setImmediate(() => participant.disconnect());
    return {};
  },
  ...hostHandlers,
};
