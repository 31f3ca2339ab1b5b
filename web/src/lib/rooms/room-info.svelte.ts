// The room's name and topic (set by a host) as the room page shows them: read once joined,
// and changed live (roomUpdated); and what notifications this person gets of it.
import type { NotificationData, NotifyLevel } from '@meet/protocol';
import { roomResponseSchema } from '@meet/protocol';
import { api } from '$lib/api';

export class RoomInfo {
  name = $state<string | null>(null);
  topic = $state<string | null>(null);
  /** What web push this person gets of the room. */
  notify = $state<NotifyLevel>('off');
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
      this.notify = room.notify;
    } catch {
      // Not essential: the room is shown by its id.
    }
  }

  onUpdated({ name, topic }: NotificationData<'roomUpdated'>): void {
    this.name = name;
    this.topic = topic;
  }
}
