// The hosts' side of a call in the browser: this participant's role, the room's lock, the
// lobby (hosts see who waits), raised hands, the hosts' actions, and why the server sent us
// away (removed, refused, meeting ended: the session then does not reconnect). Composed by
// CallSession, which routes the notifications here.
import type {
  LobbyEntry,
  MutableSource,
  NotificationData,
  RaisedHand,
  RequestData,
  RequestMethod,
  ResponseData,
  Role,
} from '@meet/protocol';
import type { NotificationHandler } from './signaling.js';

type Request = <M extends RequestMethod>(method: M, data: RequestData<M>) => Promise<ResponseData<M>>;
type Joined = Extract<ResponseData<'join'>, { status: 'joined' }>;

/** What the hosts' notifications touch in the session: the other participants' roles. */
export interface HostsContext {
  selfId(): string | undefined;
  peer(peerId: string): { role: Role } | undefined;
}

export class HostControls {
  role = $state<Role>('member');
  locked = $state(false);
  /** Who waits in the lobby (hosts only). */
  lobby = $state<LobbyEntry[]>([]);
  /** Raised hands, in the order they went up. */
  hands = $state<RaisedHand[]>([]);
  /** Why the server sent us away (removed, refused, meeting ended). */
  ended = $state<string | undefined>(undefined);
  /** The last host action that failed, with the server's reason. */
  error = $state<string | undefined>(undefined);

  readonly #context: HostsContext;
  #request: Request | undefined;

  constructor(context: HostsContext) {
    this.#context = context;
  }

  get isHost(): boolean {
    return this.role === 'host';
  }

  /** Where `peerId` is in the hands queue (1 first), or 0 when their hand is down. */
  handPosition(peerId: string | undefined): number {
    return this.hands.findIndex((hand) => hand.peerId === peerId) + 1;
  }

  /** Joined: what the server said about the room. */
  attach(request: Request, joined: Joined): void {
    this.#request = request;
    this.role = joined.role;
    this.locked = joined.locked;
    this.hands = joined.hands;
    this.lobby = joined.lobby;
    this.error = undefined;
  }

  detach(): void {
    this.#request = undefined;
    this.lobby = [];
    this.hands = [];
  }

  /** The notifications handled here; `sentAway` ends the session with the server's reason. */
  handlers(
    sentAway: (reason: string) => void,
  ): Pick<
    NotificationHandler,
    'roleChanged' | 'roomLocked' | 'lobbyUpdated' | 'handsUpdated' | 'refused' | 'removed' | 'meetingEnded'
  > {
    const away = ({ reason }: NotificationData<'removed'>) => {
      this.ended = reason;
      sentAway(reason);
    };
    return {
      roleChanged: ({ peerId, role }) => {
        if (peerId !== this.#context.selfId()) {
          const peer = this.#context.peer(peerId);
          if (peer) peer.role = role;
          return;
        }
        this.role = role;
        if (role !== 'host') this.lobby = [];
      },
      roomLocked: ({ locked }) => (this.locked = locked),
      lobbyUpdated: ({ lobby }) => (this.lobby = lobby),
      handsUpdated: ({ hands }) => (this.hands = hands),
      refused: away,
      removed: away,
      meetingEnded: away,
    };
  }

  async #act<M extends RequestMethod>(method: M, data: RequestData<M>): Promise<void> {
    if (!this.#request) return;
    try {
      await this.#request(method, data);
      this.error = undefined;
    } catch (error) {
      this.error = `Could not ${actionNames[method] ?? method}: ${(error as Error).message}`;
    }
  }

  setLocked(locked: boolean): Promise<void> {
    return this.#act('setRoomLocked', { locked });
  }

  admit(peerId: string): Promise<void> {
    return this.#act('admit', { peerId });
  }

  refuse(peerId: string): Promise<void> {
    return this.#act('refuse', { peerId });
  }

  remove(peerId: string): Promise<void> {
    return this.#act('removeParticipant', { peerId });
  }

  mute(peerId: string, source: MutableSource): Promise<void> {
    return this.#act('muteParticipant', { peerId, source });
  }

  setRole(peerId: string, role: Role): Promise<void> {
    return this.#act('setRole', { peerId, role });
  }

  endMeeting(): Promise<void> {
    return this.#act('endMeeting', {});
  }

  /** Raises or lowers one's own hand. */
  setHand(raised: boolean): Promise<void> {
    return raised ? this.#act('raiseHand', {}) : this.#act('lowerHand', {});
  }

  /** A host lowers someone's hand (answered their question). */
  lowerHand(peerId: string): Promise<void> {
    return this.#act('lowerHand', { peerId });
  }
}

const actionNames: Partial<Record<RequestMethod, string>> = {
  setRoomLocked: 'change the lock',
  admit: 'let them in',
  refuse: 'turn them away',
  removeParticipant: 'remove them',
  muteParticipant: 'turn that off',
  setRole: 'change the role',
  endMeeting: 'end the meeting',
  raiseHand: 'raise your hand',
  lowerHand: 'lower the hand',
};
