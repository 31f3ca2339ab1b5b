// Dynacast: per video producer, the highest spatial layer any of its consumers wants, told
// to the producer's owner so that its browser encodes only what someone receives. A rise is
// told at once; a fall only once it has lasted LOWER_HOLD_MS (a viewer scrolling through a
// grid must not make the publisher stop and restart its encodings). -1: nobody wants it.
// Owned by RoomMedia; knows no mediasoup object, only ids.

/** How long a lower wanted layer must last before the publisher is told. */
export const LOWER_HOLD_MS = 3000;

/** Tells a producer's owner the highest layer wanted of it now. */
export type TellLayers = (maxSpatialLayer: number) => void;

interface ProducerWants {
  tell: TellLayers;
  /** Per consumer id: the spatial layer it wants (consumers wanting nothing are left out). */
  readonly byConsumer: Map<string, number>;
  /** The layer last told to the owner (-1 before anything was told). */
  told: number;
  /** Whether anything was told yet. */
  toldOnce: boolean;
  /** Running while what is wanted is below what was told. */
  lowerTimer: ReturnType<typeof setTimeout> | undefined;
}

export class Dynacast {
  readonly #producers = new Map<string, ProducerWants>();
  readonly #holdMs: number;

  constructor(holdMs = LOWER_HOLD_MS) {
    this.#holdMs = holdMs;
  }

  /** A new video producer: nobody wants it yet; its owner is told -1 (after `produce` answered). */
  addProducer(producerId: string, tell: TellLayers): void {
    const wants: ProducerWants = {
      tell,
      byConsumer: new Map(),
      told: -1,
      toldOnce: false,
      lowerTimer: undefined,
    };
    this.#producers.set(producerId, wants);
    // After the current turn, so that the answer to `produce` (the producer's id) goes first.
    setImmediate(() => {
      if (this.#producers.get(producerId) === wants && !wants.toldOnce) this.#tell(wants, -1);
    });
  }

  removeProducer(producerId: string): void {
    const wants = this.#producers.get(producerId);
    if (!wants) return;
    clearTimeout(wants.lowerTimer);
    this.#producers.delete(producerId);
  }

  /** What one consumer of the producer wants now (-1: nothing, it is paused or closed). */
  want(producerId: string, consumerId: string, spatialLayer: number): void {
    const wants = this.#producers.get(producerId);
    if (!wants) return;
    if (spatialLayer < 0) wants.byConsumer.delete(consumerId);
    else wants.byConsumer.set(consumerId, spatialLayer);
    this.#update(wants);
  }

  /** The highest layer wanted of the producer right now (-1: none; undefined: not a known producer). */
  wanted(producerId: string): number | undefined {
    const wants = this.#producers.get(producerId);
    return wants && maxWanted(wants);
  }

  close(): void {
    for (const wants of this.#producers.values()) clearTimeout(wants.lowerTimer);
    this.#producers.clear();
  }

  #update(wants: ProducerWants): void {
    const wanted = maxWanted(wants);
    if (wanted >= wants.told) {
      clearTimeout(wants.lowerTimer);
      wants.lowerTimer = undefined;
      if (wanted > wants.told) this.#tell(wants, wanted);
      return;
    }
    // Lower: held; the hold counts from the first moment it went below what was told.
    wants.lowerTimer ??= setTimeout(() => {
      wants.lowerTimer = undefined;
      const now = maxWanted(wants);
      if (now < wants.told) this.#tell(wants, now);
    }, this.#holdMs);
  }

  #tell(wants: ProducerWants, layer: number): void {
    wants.told = layer;
    wants.toldOnce = true;
    wants.tell(layer);
  }
}

function maxWanted(wants: ProducerWants): number {
  let max = -1;
  for (const layer of wants.byConsumer.values()) max = Math.max(max, layer);
  return max;
}
