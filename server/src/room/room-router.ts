// One router of a room, on one worker (with that worker's WebRtcServer), and the
// participants whose transports are on it. A room has one or more (see RoomMedia): a room
// that outgrows one worker gets routers on others, and producers are piped between them.
import type { types } from 'mediasoup';

export class RoomRouter {
  readonly router: types.Router;
  readonly webRtcServer: types.WebRtcServer;
  readonly workerIndex: number;
  /** Peer ids of the participants whose media is on this router. */
  readonly members = new Set<string>();

  constructor(media: { router: types.Router; webRtcServer: types.WebRtcServer; workerIndex: number }) {
    this.router = media.router;
    this.webRtcServer = media.webRtcServer;
    this.workerIndex = media.workerIndex;
  }

  get id(): string {
    return this.router.id;
  }

  /** Closed by the room, or with its worker. */
  get closed(): boolean {
    return this.router.closed;
  }
}
