// Whether our own uplink carries what we send, to tell the person when it does not: a
// producer whose score (from the server, 0-10) stays low, or outbound statistics saying the
// browser's encoders are limited by bandwidth poll after poll. Also the send statistics per
// encoding that the tests read (window.__meet.outboundStats).
import type { types as ms } from 'mediasoup-client';
import type { MediaSource } from '@meet/protocol';

/** Send statistics of one encoding of our video. */
export interface OutboundSample {
  source: 'webcam' | 'screen';
  rid: string | null;
  active: boolean;
  framesEncoded: number;
  bytesSent: number;
  frameWidth: number;
}

/** A producer score at or below this (0-10), for this long, means a poor uplink. */
const POOR_SCORE = 4;
const POOR_SCORE_MS = 3000;
/** Outbound stats polled this often; 'bandwidth'-limited in this many polls in a row: poor. */
const STATS_INTERVAL_MS = 2000;
const POOR_POLLS = 3;

export interface UplinkSources {
  /** Our producers by source. */
  producers(): ReadonlyMap<MediaSource, ms.Producer>;
  /** Nobody views this producer (its encodings are all off): its score means nothing. */
  unwatched(producerId: string): boolean;
}

export class UplinkMonitor {
  /** Our uplink cannot carry what we send. */
  poor = $state(false);
  readonly #sources: UplinkSources;
  /** Per producer id: since when its score is poor (undefined: it is not). */
  readonly #poorSince = new Map<string, number | undefined>();
  #bandwidthPolls = 0;
  #timer: ReturnType<typeof setInterval> | undefined;

  constructor(sources: UplinkSources) {
    this.#sources = sources;
  }

  /** Starts polling the outbound statistics (we send on a transport now). */
  start(): void {
    clearInterval(this.#timer);
    this.#timer = setInterval(() => void this.#poll(), STATS_INTERVAL_MS);
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
    this.#poorSince.clear();
    this.#bandwidthPolls = 0;
    this.poor = false;
  }

  /** The server's score of one of our producers (`producerScore`). */
  score(producerId: string, score: number): void {
    const poor = score <= POOR_SCORE;
    this.#poorSince.set(producerId, poor ? (this.#poorSince.get(producerId) ?? Date.now()) : undefined);
    this.#update();
  }

  forget(producerId: string): void {
    this.#poorSince.delete(producerId);
  }

  #update(): void {
    const now = Date.now();
    const scorePoor = [...this.#sources.producers().values()].some((producer) => {
      // A paused producer, or one whose encodings are all off, sends nothing: its score
      // falls without saying anything about the uplink.
      if (producer.paused || producer.closed || this.#sources.unwatched(producer.id)) return false;
      const since = this.#poorSince.get(producer.id);
      return since !== undefined && now - since >= POOR_SCORE_MS;
    });
    this.poor = scorePoor || this.#bandwidthPolls >= POOR_POLLS;
  }

  async #poll(): Promise<void> {
    try {
      const samples = await this.#outbound();
      const limited = samples.some((s) => s.active && s.qualityLimitationReason === 'bandwidth');
      this.#bandwidthPolls = limited ? this.#bandwidthPolls + 1 : 0;
    } catch {
      this.#bandwidthPolls = 0;
    }
    this.#update();
  }

  /** Each encoding of our video producers, from the sender's stats and parameters. */
  async #outbound(): Promise<Array<OutboundSample & { qualityLimitationReason: string | undefined }>> {
    const result = [];
    for (const source of ['webcam', 'screen'] as const) {
      const producer = this.#sources.producers().get(source);
      if (!producer || producer.closed) continue;
      const encodings = producer.rtpSender?.getParameters().encodings ?? [];
      const report = await producer.getStats();
      for (const entry of report.values() as Iterable<Record<string, unknown>>) {
        if (entry.type !== 'outbound-rtp') continue;
        const rid = typeof entry.rid === 'string' ? entry.rid : null;
        const encoding = rid === null ? encodings[0] : encodings.find((e) => e.rid === rid);
        const number = (key: string) => (typeof entry[key] === 'number' ? entry[key] : 0);
        result.push({
          source,
          rid,
          active: !producer.paused && encoding?.active !== false,
          framesEncoded: number('framesEncoded'),
          bytesSent: number('bytesSent'),
          frameWidth: number('frameWidth'),
          qualityLimitationReason:
            typeof entry.qualityLimitationReason === 'string' ? entry.qualityLimitationReason : undefined,
        });
      }
    }
    return result;
  }

  /** Send statistics per encoding of our camera and screen. */
  async outboundStats(): Promise<OutboundSample[]> {
    return (await this.#outbound())
      .map(({ qualityLimitationReason: _, ...sample }) => sample)
      .sort((a, b) => a.source.localeCompare(b.source) || (a.rid ?? '').localeCompare(b.rid ?? ''));
  }
}
