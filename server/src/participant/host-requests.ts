// The hosts' requests (and raising hands), merged into the handler table of requests.ts.
// A host-only request by someone who is not a host is refused (403); a participant named
// that is not in the room (or not in its lobby, for admit/refuse) is not found (404).
import type { MutableSource, hostRequests } from '@meet/protocol';
import { badRequest, forbidden, notFound } from '../signaling/errors.js';
import { removeMembership, setMemberRole, setRoomLocked } from '../chat/membership.js';
import type { Participant } from './participant.js';
import type { Handlers } from './requests.js';

type HostMethod = keyof typeof hostRequests;

const sourceName: Record<MutableSource, string> = { mic: 'microphone', webcam: 'camera' };

function requireHost(participant: Participant, what: string): void {
  if (!participant.isHost) throw forbidden(`only a host can ${what}`);
}

/** A participant in the room (joined) by id. */
function inRoom(participant: Participant, peerId: string): Participant {
  const target = participant.room.participants.get(peerId);
  if (!target?.joined || target.closed) throw notFound(`participant ${peerId} is not in this room`);
  return target;
}

/** Someone waiting in the room's lobby by id. */
function inLobby(participant: Participant, peerId: string): Participant {
  const target = participant.room.hosts.waiting(peerId);
  if (!target || target.closed) throw notFound(`participant ${peerId} is not waiting in the lobby`);
  return target;
}

const nameOf = (participant: Participant) => participant.displayName ?? 'A host';

export const hostHandlers: Pick<Handlers, HostMethod> = {
  setRoomLocked: (participant, { locked }) =>
    participant.room.serializeHostChange(async () => {
      requireHost(participant, 'lock or unlock the room');
      const { room } = participant;
      await setRoomLocked(room.db, room.id, locked);
      room.hosts.locked = locked;
      room.broadcast('roomLocked', { locked });
      if (!locked) room.hosts.admitEveryone();
      participant.log.info({ locked }, locked ? 'room locked' : 'room unlocked');
      return {};
    }),

  admit: (participant, { peerId }) => {
    requireHost(participant, 'let people in');
    participant.room.hosts.admit(inLobby(participant, peerId));
    return {};
  },

  refuse: (participant, { peerId }) => {
    requireHost(participant, 'turn people away');
    participant.room.hosts.refuse(inLobby(participant, peerId), `${nameOf(participant)} did not let you in`);
    return {};
  },

  removeParticipant: (participant, { peerId }) =>
    participant.room.serializeHostChange(async () => {
      requireHost(participant, 'remove participants');
      const { room } = participant;
      const target = inRoom(participant, peerId);
      if (target.identity.id === participant.identity.id)
        throw badRequest('a host cannot remove themselves (leave instead)');
      await removeMembership(room.db, room.id, target.identity.id);
      // Every connection of that person goes: no membership is left to stand on.
      const reason = `${nameOf(participant)} removed you from the meeting`;
      for (const connection of room.participantsOf(target.identity.id)) {
        connection.notify('removed', { reason });
        connection.disconnect(reason);
      }
      participant.log.info({ removed: target.id }, 'participant removed by a host');
      return {};
    }),

  muteParticipant: async (participant, { peerId, source }) => {
    requireHost(participant, `turn off someone's ${sourceName[source]}`);
    const target = inRoom(participant, peerId);
    const producer = [...target.producers.values()].find((p) => p.appData.source === source);
    if (!producer) throw notFound(`${target.displayName ?? peerId} is not sending a ${sourceName[source]}`);
    if (producer.paused) return {};
    // The same path as the owner's own pause: everyone else is told `producerPaused`.
    await target.media?.setProducerPaused(producer.id, true);
    if (producer.closed) return {};
    target.notify('mutedByHost', { source, producerId: producer.id, by: nameOf(participant) });
    participant.log.info({ target: target.id, source }, 'muted by a host');
    return {};
  },

  setRole: (participant, { peerId, role }) =>
    participant.room.serializeHostChange(async () => {
      requireHost(participant, 'change roles');
      const { room } = participant;
      const target = inRoom(participant, peerId);
      if (target.identity.id === participant.identity.id)
        throw badRequest('a host cannot change their own role');
      if (!(await setMemberRole(room.db, room.id, target.identity.id, role)))
        throw notFound(`participant ${peerId} is no longer a member of this room`);
      for (const connection of room.participantsOf(target.identity.id)) {
        if (!connection.joined || connection.role === role) continue;
        connection.role = role;
        // To everyone, the person included.
        room.broadcast('roleChanged', { peerId: connection.id, role });
        if (role === 'host') room.hosts.tellLobby(connection);
      }
      participant.log.info({ target: target.id, role }, 'role changed by a host');
      return {};
    }),

  endMeeting: (participant) => {
    requireHost(participant, 'end the meeting');
    participant.room.endMeeting(`${nameOf(participant)} ended the meeting`);
    return {};
  },

  raiseHand: (participant) => {
    participant.room.hosts.raiseHand(participant);
    return {};
  },

  lowerHand: (participant, { peerId }) => {
    if (peerId === undefined || peerId === participant.id) {
      participant.room.hosts.lowerHand(participant.id);
      return {};
    }
    requireHost(participant, "lower someone else's hand");
    participant.room.hosts.lowerHand(inRoom(participant, peerId).id);
    return {};
  },
};
