// The hosts' side of a room, in memory: the lobby (who waits to be let into the locked
// room, in the order they knocked) and the raised hands (in the order they were raised).
// Roles and the lock itself are stored (memberships.role, rooms.locked); the room caches
// the lock once a host changed it here. Owned by the Room.
//
// With several nodes, each node holds the lobby and hands of its own connections and tells
// the others (RoomLink); what hosts and participants see is every node's, merged in order.
import type { LobbyEntry, RaisedHand } from '@meet/protocol';
import type { Participant } from '../participant/participant.js';
import type { Room } from './room.js';

interface Waiting {
  participant: Participant;
  since: string;
}

export class RoomHosts {
  readonly #room: Room;
  readonly #lobby = new Map<string, Waiting>();
  /** Participant id → when the hand went up (a Map keeps the order of raising). */
  readonly #hands = new Map<string, string>();
  /** The lock as last set by a host on this server (undefined: not changed here). */
  locked: boolean | undefined;
  /** Other nodes' lobbies and hands (several nodes), by node. */
  readonly #remoteLobby = new Map<string, LobbyEntry[]>();
  readonly #remoteHands = new Map<string, RaisedHand[]>();

  constructor(room: Room) {
    this.#room = room;
  }

  /** Joined participants who are hosts. */
  hosts(): Participant[] {
    return this.#room.joinedParticipants().filter((participant) => participant.isHost);
  }

  // --- lobby

  /** Everyone waiting, on every node, in the order they knocked. */
  lobby(): LobbyEntry[] {
    const all = [...this.localLobby(), ...[...this.#remoteLobby.values()].flat()];
    return all.sort((a, b) => (a.since < b.since ? -1 : a.since > b.since ? 1 : 0));
  }

  /** Who waits on this node. */
  localLobby(): LobbyEntry[] {
    return [...this.#lobby.values()].map(({ participant, since }) => ({
      peerId: participant.id,
      identityId: participant.identity.id,
      displayName: participant.displayName ?? '',
      since,
    }));
  }

  get lobbySize(): number {
    return this.#lobby.size;
  }

  isWaiting(participant: Participant): boolean {
    return this.#lobby.get(participant.id)?.participant === participant;
  }

  /** The participant waiting in the lobby under this id, if any. */
  waiting(peerId: string): Participant | undefined {
    return this.#lobby.get(peerId)?.participant;
  }

  /** Puts a participant in the lobby (once) and tells the hosts. */
  knock(participant: Participant): void {
    if (this.isWaiting(participant)) return;
    this.#lobby.set(participant.id, { participant, since: new Date().toISOString() });
    participant.log.info('waiting in the lobby');
    this.#lobbyChanged();
  }

  /** A host let them in: they are told, and their next join gets in. */
  admit(participant: Participant): void {
    if (!this.#leaveLobby(participant)) return;
    participant.admitted = true;
    // In: it must now join again within the join timeout, like any new connection.
    participant.startJoinTimer();
    participant.notify('admitted', {});
    participant.log.info('admitted from the lobby');
    this.#lobbyChanged();
  }

  /** The room was unlocked: everyone waiting gets in. */
  admitEveryone(): void {
    for (const { participant } of [...this.#lobby.values()]) this.admit(participant);
  }

  /** A host turned them away: they are told, then disconnected. */
  refuse(participant: Participant, reason: string): void {
    if (!this.#leaveLobby(participant)) return;
    participant.notify('refused', { reason });
    participant.log.info('refused from the lobby');
    participant.disconnect(reason);
    this.#lobbyChanged();
  }

  /** Sends a host (one who just became host) the current lobby. */
  tellLobby(host: Participant): void {
    host.notify('lobbyUpdated', { lobby: this.lobby() });
  }

  #leaveLobby(participant: Participant): boolean {
    if (!this.isWaiting(participant)) return false;
    this.#lobby.delete(participant.id);
    return true;
  }

  #lobbyChanged(): void {
    this.#room.link?.publish({ t: 'lobby', entries: this.localLobby() });
    this.#tellLobby();
  }

  #tellLobby(): void {
    const lobby = this.lobby();
    for (const host of this.hosts()) host.notify('lobbyUpdated', { lobby });
  }

  /** Which node someone waiting elsewhere waits on. */
  remoteWaiting(peerId: string): string | undefined {
    for (const [nodeId, entries] of this.#remoteLobby)
      if (entries.some((entry) => entry.peerId === peerId)) return nodeId;
    return undefined;
  }

  // --- hands

  /** Every raised hand, on every node, in the order they were raised. */
  hands(): RaisedHand[] {
    const all = [...this.localHands(), ...[...this.#remoteHands.values()].flat()];
    return all.sort((a, b) => (a.raisedAt < b.raisedAt ? -1 : a.raisedAt > b.raisedAt ? 1 : 0));
  }

  localHands(): RaisedHand[] {
    return [...this.#hands].map(([peerId, raisedAt]) => ({ peerId, raisedAt }));
  }

  /** Which node a raised hand elsewhere is on. */
  remoteHand(peerId: string): string | undefined {
    for (const [nodeId, hands] of this.#remoteHands)
      if (hands.some((hand) => hand.peerId === peerId)) return nodeId;
    return undefined;
  }

  raiseHand(participant: Participant): void {
    if (this.#hands.has(participant.id)) return;
    this.#hands.set(participant.id, new Date().toISOString());
    this.#handsChanged();
  }

  lowerHand(peerId: string): void {
    if (this.#hands.delete(peerId)) this.#handsChanged();
  }

  #handsChanged(): void {
    this.#room.link?.publish({ t: 'hands', hands: this.localHands() });
    this.#room.deliver('handsUpdated', { hands: this.hands() });
  }

  /** Another node's lobby or hands changed (undefined: that node is gone). */
  fromNode(nodeId: string, change: { lobby?: LobbyEntry[]; hands?: RaisedHand[] }): void {
    if (change.lobby) {
      if (change.lobby.length) this.#remoteLobby.set(nodeId, change.lobby);
      else this.#remoteLobby.delete(nodeId);
      this.#tellLobby();
    }
    if (change.hands) {
      if (change.hands.length) this.#remoteHands.set(nodeId, change.hands);
      else this.#remoteHands.delete(nodeId);
      this.#room.deliver('handsUpdated', { hands: this.hands() });
    }
  }

  /** The participant left the room: out of the lobby, hand down. */
  forget(participant: Participant): void {
    if (this.#leaveLobby(participant)) this.#lobbyChanged();
    this.lowerHand(participant.id);
  }
}
