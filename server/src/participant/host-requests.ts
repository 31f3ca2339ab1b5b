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

/** Who a joined participant is, on this node or (several nodes) on another one. */
function anywhereInRoom(
  participant: Participant,
  peerId: string,
): { identityId: string; displayName: string; nodeId?: string } {
  const local = participant.room.participants.get(peerId);
  if (local?.joined && !local.closed)
    return { identityId: local.identity.id, displayName: local.displayName ?? '' };
  const remote = participant.room.link?.remotePeer(peerId);
  if (!remote) throw notFound(`participant ${peerId} is not in this room`);
  return { identityId: remote.info.identityId, displayName: remote.info.displayName, nodeId: remote.nodeId };
}

/**
 * Pauses the target's microphone or camera for a host (on the target's own node): everyone
 * is told `producerPaused`, the target `mutedByHost`.
 */
export async function muteForHost(target: Participant, source: MutableSource, by: string): Promise<void> {
  const producer = [...target.producers.values()].find((p) => p.appData.source === source);
  if (!producer) throw notFound(`${target.displayName ?? target.id} is not sending a ${sourceName[source]}`);
  if (producer.paused) return;
  // The same path as the owner's own pause: everyone else is told `producerPaused`.
  await target.media?.setProducerPaused(producer.id, true);
  if (producer.closed) return;
  target.notify('mutedByHost', { source, producerId: producer.id, by });
}

/** Someone waiting in the room's lobby by id. */
function inLobby(participant: Participant, peerId: string): Participant {
  const target = participant.room.hosts.waiting(peerId);
  if (!target || target.closed) throw notFound(`participant ${peerId} is not waiting in the lobby`);
  return target;
}

const nameOf = (participant: Participant) => participant.displayName ?? 'A host';

/** Lets someone in from the lobby, or turns them away, on whichever node they wait. */
async function decideLobby(participant: Participant, peerId: string, admit: boolean, reason: string) {
  const { room } = participant;
  const elsewhere = room.hosts.waiting(peerId) ? undefined : room.hosts.remoteWaiting(peerId);
  if (elsewhere && room.link) {
    await room.link.ask(elsewhere, 'lobbyDecision', { roomId: room.id, peerId, admit, reason });
    return;
  }
  const waiting = inLobby(participant, peerId);
  if (admit) room.hosts.admit(waiting);
  else room.hosts.refuse(waiting, reason);
}

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

  admit: async (participant, { peerId }) => {
    requireHost(participant, 'let people in');
    await decideLobby(participant, peerId, true, '');
    return {};
  },

  refuse: async (participant, { peerId }) => {
    requireHost(participant, 'turn people away');
    await decideLobby(participant, peerId, false, `${nameOf(participant)} did not let you in`);
    return {};
  },

  removeParticipant: (participant, { peerId }) =>
    participant.room.serializeHostChange(async () => {
      requireHost(participant, 'remove participants');
      const { room } = participant;
      const target = anywhereInRoom(participant, peerId);
      if (target.identityId === participant.identity.id)
        throw badRequest('a host cannot remove themselves (leave instead)');
      await removeMembership(room.db, room.id, target.identityId);
      // Every connection of that person goes, on every node: no membership is left to stand on.
      const reason = `${nameOf(participant)} removed you from the meeting`;
      room.disconnectIdentity(target.identityId, reason);
      participant.log.info({ removed: peerId }, 'participant removed by a host');
      return {};
    }),

  muteParticipant: async (participant, { peerId, source }) => {
    requireHost(participant, `turn off someone's ${sourceName[source]}`);
    const { room } = participant;
    const target = anywhereInRoom(participant, peerId);
    if (target.nodeId && room.link) {
      // Connected to another node: that node pauses it and tells everyone.
      await room.link.ask(target.nodeId, 'mute', {
        roomId: room.id,
        peerId,
        source,
        by: nameOf(participant),
      });
    } else {
      await muteForHost(inRoom(participant, peerId), source, nameOf(participant));
    }
    participant.log.info({ target: peerId, source }, 'muted by a host');
    return {};
  },

  setRole: (participant, { peerId, role }) =>
    participant.room.serializeHostChange(async () => {
      requireHost(participant, 'change roles');
      const { room } = participant;
      const target = anywhereInRoom(participant, peerId);
      if (target.identityId === participant.identity.id)
        throw badRequest('a host cannot change their own role');
      if (!(await setMemberRole(room.db, room.id, target.identityId, role)))
        throw notFound(`participant ${peerId} is no longer a member of this room`);
      room.applyRole(target.identityId, role, { everywhere: true });
      participant.log.info({ target: peerId, role }, 'role changed by a host');
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

  lowerHand: async (participant, { peerId }) => {
    if (peerId === undefined || peerId === participant.id) {
      participant.room.hosts.lowerHand(participant.id);
      return {};
    }
    requireHost(participant, "lower someone else's hand");
    const { room } = participant;
    const elsewhere = room.participants.has(peerId) ? undefined : room.hosts.remoteHand(peerId);
    if (elsewhere && room.link) await room.link.ask(elsewhere, 'lowerHand', { roomId: room.id, peerId });
    else room.hosts.lowerHand(inRoom(participant, peerId).id);
    return {};
  },
};
