// What a participant shows: which of its video consumers are on screen and at what size
// (setView), and which consumers its browser is ready to receive (resumeConsumer, cleared
// by pauseConsumer). From both: whether a consumer is forwarded. No mediasoup objects here.
import type { ViewTile } from '@meet/protocol';
import type { TileSize } from '../media/layers.js';

export class ConsumerView {
  /** Consumers the browser resumed (and did not pause since). */
  readonly #ready = new Set<string>();
  /** The latest view, by consumer id; undefined until a view is set for the first time. */
  #tiles: Map<string, TileSize> | undefined;

  /** `viewed`: a view was set before (by this participant, on media since replaced). */
  constructor(viewed = false) {
    if (viewed) this.#tiles = new Map();
  }

  /** Whether a view was ever set: from then on, video is forwarded only when listed. */
  get viewed(): boolean {
    return this.#tiles !== undefined;
  }

  setReady(consumerId: string, ready: boolean): void {
    if (ready) this.#ready.add(consumerId);
    else this.#ready.delete(consumerId);
  }

  isReady(consumerId: string): boolean {
    return this.#ready.has(consumerId);
  }

  /** Replaces the view. A consumer listed twice (main tile and strip) counts at its largest. */
  setTiles(tiles: readonly ViewTile[]): void {
    const next = new Map<string, TileSize>();
    for (const { consumerId, width, height } of tiles) {
      const seen = next.get(consumerId);
      next.set(consumerId, {
        width: Math.max(width, seen?.width ?? 0),
        height: Math.max(height, seen?.height ?? 0),
      });
    }
    this.#tiles = next;
  }

  /** The consumer's tile in the latest view (undefined: not in it, or no view set). */
  tile(consumerId: string): TileSize | undefined {
    return this.#tiles?.get(consumerId);
  }

  /** Whether the consumer is to be forwarded: ready, and for video in the view (if any). */
  forwards(consumerId: string, kind: 'audio' | 'video'): boolean {
    if (!this.#ready.has(consumerId)) return false;
    return kind === 'audio' || this.#tiles === undefined || this.#tiles.has(consumerId);
  }

  forget(consumerId: string): void {
    this.#ready.delete(consumerId);
  }
}
