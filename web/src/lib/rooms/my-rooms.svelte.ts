// "My rooms" on the home page: the rooms this browser's identity belongs to, with unread
// counts, the newest message and who is there now. Kept current by asking again every few
// seconds while the page is visible (and at once when it becomes visible again).
import { roomListSchema, type RoomListing } from '@meet/protocol';
import { api, ApiError } from '$lib/api';

export type MyRoom = RoomListing;

/** How often the list is asked for again while the page is visible. */
export const refreshMs = 3000;

export class MyRooms {
  rooms = $state<MyRoom[]>([]);
  /** False until the first answer (and when this browser has no identity yet). */
  loaded = $state(false);
  error = $state<string | undefined>();
  #timer: ReturnType<typeof setTimeout> | undefined;
  #stopped = true;
  readonly #onVisibility = () => {
    if (document.visibilityState === 'visible') void this.refresh();
  };

  start(): void {
    this.#stopped = false;
    document.addEventListener('visibilitychange', this.#onVisibility);
    void this.refresh();
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
    document.removeEventListener('visibilitychange', this.#onVisibility);
  }

  async refresh(): Promise<void> {
    clearTimeout(this.#timer);
    try {
      this.rooms = roomListSchema.parse(await api('GET', '/api/rooms')).rooms;
      this.error = undefined;
    } catch (error) {
      // No identity yet (a first visit): no rooms to show.
      if (error instanceof ApiError && error.status === 401) this.rooms = [];
      else this.error = `Your rooms could not be loaded: ${(error as Error).message}`;
    }
    this.loaded = true;
    if (!this.#stopped && document.visibilityState === 'visible')
      this.#timer = setTimeout(() => void this.refresh(), refreshMs);
  }

  async #change(work: () => Promise<unknown>, what: string): Promise<void> {
    try {
      await work();
      this.error = undefined;
    } catch (error) {
      this.error = `Could not ${what}: ${(error as Error).message}`;
    }
    await this.refresh();
  }

  star(roomId: string, starred: boolean): Promise<void> {
    return this.#change(() => api('PUT', `/api/rooms/${roomId}/star`, { starred }), 'star the room');
  }

  leave(roomId: string): Promise<void> {
    return this.#change(() => api('DELETE', `/api/rooms/${roomId}/membership`), 'leave the room');
  }

  rename(roomId: string, name: string, topic: string): Promise<void> {
    return this.#change(() => api('PATCH', `/api/rooms/${roomId}`, { name, topic }), 'rename the room');
  }
}
