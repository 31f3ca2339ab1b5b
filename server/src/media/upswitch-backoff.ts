// After a viewer's downlink made the server drop one of its videos to a lower spatial layer,
// going back up is held for a while, then allowed one layer at a time. Without it, mediasoup
// moves up as soon as its bandwidth estimate allows, and on a slow link the estimate
// overshoots now and then (a probe cluster small enough to pass a shaper's token bucket at
// full speed measures a rate the link does not have): the switch asks for the top layer's
// key frame, which takes seconds through the link, the estimate collapses, the video falls
// back and waits for another key frame. Measured on a 600 kbit/s link: frozen tiles of 2.5 to
// 3.5 s, several times a minute. Holding the layer trades a slower climb for no freeze; a
// viewer whose link keeps failing waits longer each time (doubling, up to MAX_HOLD_MS).
// Plain bookkeeping by consumer id and time; the owner applies the caps to mediasoup.

/** How long a fall holds the layer the first time (and each step up after it). */
export const FIRST_HOLD_MS = 8000;
/** The longest hold, for a link that keeps failing. */
export const MAX_HOLD_MS = 32_000;
/** A fall this long after the previous one counts as the first again. */
export const CALM_MS = 60_000;

interface Hold {
  /** The highest spatial layer allowed now (undefined: none, climbing freely). */
  cap: number | undefined;
  /** The length of the latest fall's hold (doubled by the next fall within CALM_MS). */
  holdMs: number;
  lastFallAt: number;
  timer: ReturnType<typeof setTimeout> | undefined;
}

/**
 * Whether a change of a consumer's forwarded layers may be a fall for lack of the viewer's
 * bandwidth: to a lower spatial layer than before and than the viewer prefers (a tile that
 * shrank lowers what it prefers first).
 */
export function isFall(change: {
  previous: number | undefined;
  current: number | undefined;
  preferred: number | undefined;
}): boolean {
  const { previous, current, preferred } = change;
  if (previous === undefined || current === undefined || preferred === undefined) return false;
  return current < previous && current < preferred;
}

/**
 * Whether the publisher still sends a layer above `current` up to `preferred` (its score for
 * that encoding above 0): then a fall was the viewer's downlink, not the publisher stopping
 * (its own uplink, dynacast). The scores lag the fall (mediasoup reports them apart): ask
 * after FALL_CONFIRM_MS.
 */
export function publisherSendsAbove(
  producerScores: readonly number[],
  current: number,
  preferred: number,
): boolean {
  return producerScores.some((score, layer) => layer > current && layer <= preferred && score > 0);
}

/** How long after a fall its cause is judged (the producer's scores have caught up by then). */
export const FALL_CONFIRM_MS = 1000;

export class UpswitchBackoff {
  readonly #holds = new Map<string, Hold>();
  /** Falls waiting for their cause to be judged: the timer of each. */
  readonly #suspects = new Map<string, ReturnType<typeof setTimeout>>();
  /** Called when a consumer's cap changes (the owner applies it to the consumer). */
  readonly #changed: (consumerId: string) => void;

  constructor(changed: (consumerId: string) => void) {
    this.#changed = changed;
  }

  /**
   * The consumer was dropped to `spatialLayer` for lack of bandwidth: it may not rise above
   * it for a hold, then one layer per FIRST_HOLD_MS up to `topLayer`. Returns the hold (ms).
   */
  fell(consumerId: string, spatialLayer: number, topLayer: number, now = Date.now()): number {
    const previous = this.#holds.get(consumerId);
    clearTimeout(previous?.timer);
    const holdMs =
      previous && now - previous.lastFallAt < CALM_MS
        ? Math.min(previous.holdMs * 2, MAX_HOLD_MS)
        : FIRST_HOLD_MS;
    const hold: Hold = { cap: spatialLayer, holdMs, lastFallAt: now, timer: undefined };
    this.#holds.set(consumerId, hold);
    this.#schedule(consumerId, hold, holdMs, topLayer);
    this.#changed(consumerId);
    return holdMs;
  }

  /**
   * The consumer fell to `spatialLayer`: after FALL_CONFIRM_MS, if `confirm()` says it was
   * for lack of bandwidth (the publisher still sends above it), it is held there (`fell`).
   */
  suspect(consumerId: string, spatialLayer: number, topLayer: number, confirm: () => boolean): void {
    clearTimeout(this.#suspects.get(consumerId));
    const timer = setTimeout(() => {
      this.#suspects.delete(consumerId);
      if (confirm()) this.fell(consumerId, spatialLayer, topLayer);
    }, FALL_CONFIRM_MS);
    timer.unref?.();
    this.#suspects.set(consumerId, timer);
  }

  /** The highest spatial layer the consumer may be sent now; undefined: no limit. */
  cap(consumerId: string): number | undefined {
    return this.#holds.get(consumerId)?.cap;
  }

  forget(consumerId: string): void {
    clearTimeout(this.#holds.get(consumerId)?.timer);
    clearTimeout(this.#suspects.get(consumerId));
    this.#holds.delete(consumerId);
    this.#suspects.delete(consumerId);
  }

  close(): void {
    for (const hold of this.#holds.values()) clearTimeout(hold.timer);
    for (const timer of this.#suspects.values()) clearTimeout(timer);
    this.#holds.clear();
    this.#suspects.clear();
  }

  /** At the end of a hold: one layer more, or no limit once the top is reached. */
  #schedule(consumerId: string, hold: Hold, afterMs: number, topLayer: number): void {
    hold.timer = setTimeout(() => {
      hold.timer = undefined;
      if (this.#holds.get(consumerId) !== hold || hold.cap === undefined) return;
      const next = hold.cap + 1;
      hold.cap = next >= topLayer ? undefined : next;
      if (hold.cap !== undefined) this.#schedule(consumerId, hold, FIRST_HOLD_MS, topLayer);
      this.#changed(consumerId);
    }, afterMs);
    hold.timer.unref?.();
  }
}
