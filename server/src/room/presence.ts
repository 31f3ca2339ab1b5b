// Who is connected to rooms right now, for "my rooms": this node's participants, the other
// nodes' as this node's open room mirrors them, and for rooms not open here, as the nodes in
// each room's directory say. One entry per person (their tabs together: in the call if any
// is, away only if all are).
import type { PeerInfo } from '@meet/protocol';
import type { Cluster } from '../cluster/cluster.js';
import type { RoomRegistry } from './registry.js';

export interface PresentPerson {
  identityId: string;
  displayName: string;
  inCall: boolean;
  away: boolean;
  busy: boolean;
}

export type PresenceLookup = (roomIds: string[]) => Promise<Map<string, PresentPerson[]>>;

function byPerson(peers: PeerInfo[]): PresentPerson[] {
  const people = new Map<string, PresentPerson>();
  for (const peer of peers) {
    const known = people.get(peer.identityId);
    if (known) {
      known.inCall ||= peer.inCall;
      known.away &&= peer.status === 'away';
      known.busy ||= peer.status === 'busy';
    } else
      people.set(peer.identityId, {
        identityId: peer.identityId,
        displayName: peer.displayName,
        inCall: peer.inCall,
        away: peer.status === 'away',
        busy: peer.status === 'busy',
      });
  }
  return [...people.values()].sort((a, b) => a.displayName.localeCompare(b.displayName));
}

export function roomPresence(rooms: RoomRegistry, cluster: Cluster | undefined): PresenceLookup {
  return async (roomIds) => {
    const peers = new Map<string, PeerInfo[]>();
    const notOpenHere: string[] = [];
    for (const roomId of roomIds) {
      const room = rooms.get(roomId);
      if (!room) {
        notOpenHere.push(roomId);
        continue;
      }
      peers.set(roomId, [
        ...room.joinedParticipants().map((participant) => participant.info()),
        ...(room.link?.remotePeers() ?? []),
      ]);
    }
    if (cluster)
      for (const [roomId, found] of await cluster.peersElsewhere(notOpenHere)) peers.set(roomId, found);
    return new Map([...peers].map(([roomId, list]) => [roomId, byPerson(list)]));
  };
}
