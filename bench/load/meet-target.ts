// Targets of the load tool. This platform: participants are MeetParticipants; the SFU
// processes are the mediasoup workers whose pids GET /metrics lists (meet_media_worker_pid).
// Participants live in this thread (threads = 0) or in worker threads (bench/load/threads.ts).
import { joinLocal, ThreadedTarget, type MediaSpec, type ParticipantSpec } from './threads.js';
import type { Target } from './runner.js';

/**
 * The pids of the server's live mediasoup workers, from its metrics: `metricsToken` is its
 * METRICS_TOKEN. None when the metrics cannot be read (then the SFU's CPU is not measured).
 */
export async function meetWorkerPids(baseUrl: string, metricsToken?: string): Promise<number[]> {
  const response = await fetch(new URL('/metrics', baseUrl), {
    headers: metricsToken ? { authorization: `Bearer ${metricsToken}` } : {},
  }).catch(() => undefined);
  if (!response?.ok) return [];
  const text = await response.text();
  return [...text.matchAll(/^meet_media_worker_pid\{[^}]*\} (\d+)$/gm)].map((m) => Number(m[1]));
}

/** A target from a participant spec: local when threads is 0, else spread over threads. */
export function createTarget(
  name: string,
  spec: ParticipantSpec,
  threads: number,
  base: Pick<Target, 'sfuPids' | 'prepareRoom'>,
): Target {
  if (threads > 0) return new ThreadedTarget(name, spec, threads, base);
  return { name, join: (options) => joinLocal(spec, options), ...base };
}

export function meetTarget(
  baseUrl: string,
  media: MediaSpec = {},
  threads = 0,
  metricsToken = process.env.METRICS_TOKEN,
): Target {
  return createTarget('meet', { kind: 'meet', baseUrl, media }, threads, {
    sfuPids: () => meetWorkerPids(baseUrl, metricsToken),
  });
}
