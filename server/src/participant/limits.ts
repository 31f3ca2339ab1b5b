// What one participant may hold and how fast it may ask. The Participant enforces these;
// the values come from the configuration (docs/security.md lists each with its default).

export interface ParticipantLimits {
  /** WebRTC transports at once (a send and a receive transport, plus room for ICE churn). */
  transports: number;
  /** Producers at once (at most one per source besides). */
  producers: number;
  /** Consumers at once, all producers together (one per producer besides). */
  consumers: number;
  /** Requests waiting behind the one being handled; more are refused at once (429). */
  pendingRequests: number;
  /** Signaling requests per second (token bucket), and the burst allowed above it. */
  requestsPerSecond: number;
  requestBurst: number;
  /** Chat sends per second, and the burst allowed above it. */
  chatPerSecond: number;
  chatBurst: number;
  /** A connection that has not joined (or knocked) by then is closed. */
  joinTimeoutMs: number;
}

export const defaultParticipantLimits: ParticipantLimits = {
  transports: 4,
  producers: 6,
  consumers: 300,
  pendingRequests: 64,
  requestsPerSecond: 50,
  requestBurst: 200,
  chatPerSecond: 5,
  chatBurst: 20,
  joinTimeoutMs: 15_000,
};

/**
 * A token bucket: `burst` tokens, refilled at `perSecond`. take() spends one and returns 0,
 * or, when none is left, the milliseconds until one will be (and spends nothing).
 */
export class TokenBucket {
  readonly #perSecond: number;
  readonly #burst: number;
  readonly #now: () => number;
  #tokens: number;
  #at: number;

  constructor(perSecond: number, burst: number, now: () => number = () => performance.now()) {
    this.#perSecond = perSecond;
    this.#burst = burst;
    this.#now = now;
    this.#tokens = burst;
    this.#at = now();
  }

  take(): number {
    const now = this.#now();
    this.#tokens = Math.min(this.#burst, this.#tokens + ((now - this.#at) / 1000) * this.#perSecond);
    this.#at = now;
    if (this.#tokens >= 1) {
      this.#tokens -= 1;
      return 0;
    }
    return Math.ceil(((1 - this.#tokens) / this.#perSecond) * 1000);
  }
}

/**
 * Runs tasks one at a time, in the order they were added, with at most `bound` waiting.
 * A participant's requests go through one: a request sees the state every earlier one left.
 */
export class SerialQueue {
  readonly #bound: number;
  #tail: Promise<unknown> = Promise.resolve();
  #waiting = 0;

  constructor(bound: number) {
    this.#bound = bound;
  }

  /** Whether another task may be added now. */
  get full(): boolean {
    return this.#waiting >= this.#bound;
  }

  run<T>(task: () => Promise<T>): Promise<T> {
    this.#waiting++;
    const run = this.#tail.then(() => {
      this.#waiting--;
      return task();
    });
    this.#tail = run.catch(() => undefined);
    return run;
  }
}
