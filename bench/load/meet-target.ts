// Targets of the load tool. This platform: participants are MeetParticipants; the SFU
// processes are the mediasoup workers listed by GET /api/health. Participants live in this
// thread (threads = 0) or in worker threads (bench/load/threads.ts).
import { joinLocal, ThreadedTarget, type MediaSpec, type ParticipantSpec } from './threads.js';
import type { Target } from './runner.js';

export async function meetWorkerPids(baseUrl: string): Promise<number[]> {
  const response = await fetch(new URL('/api/health', baseUrl));
  const body = (await response.json()) as { workers?: Array<{ pid?: number }> };
  return (body.workers ?? []).flatMap((w) => (typeof w.pid === 'number' ? [w.pid] : []));
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

export function meetTarget(baseUrl: string, media: MediaSpec = {}, threads = 0): Target {
  return createTarget('meet', { kind: 'meet', baseUrl, media }, threads, {
    sfuPids: () => meetWorkerPids(baseUrl),
  });
}
