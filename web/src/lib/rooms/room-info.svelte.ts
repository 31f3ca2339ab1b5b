// The room's name and topic (set by a host) as the room page shows them: read once joined,
// and changed live (roomUpdated).
import type { NotificationData } from '@meet/protocol';
import { roomResponseSchema } from '@meet/protocol';
import { api } from '$lib/api';

export class RoomInfo {
  name = $state<string | null>(null);
  topic = $state<string | null>(null);
  readonly #roomId: string;

  constructor(roomId: string) {
    this.#roomId = roomId;
  }

  /** After each join (we are a member then): what the room is called now. */
  async load(): Promise<void> {
    try {
      const { room } = roomResponseSchema.parse(await api('GET', `/api/rooms/${this.#roomId}`));
      this.name = room.name;
      this.topic = room.topic;
    } catch {
      // Not essential: the room is shown by its id.
    }
  }

  onUpdated({ name, topic }: NotificationData<'roomUpdated'>): void {
    this.name = name;
    this.topic = topic;
  }
}
