// GET /api/health: what a load balancer or a container health check needs, and no more —
// 200 {status:'ok'}, or 503 {status:'unavailable'} when no media worker answers or the
// database does not. The details (each worker, rooms, participants) are metrics (/metrics).
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { healthResponseSchema } from '@meet/protocol';
import type { MediaWorkerPool } from '@meet/media-worker';
import type { Db } from '../db/database.js';

/** How long a probe may take before it counts as failed (health checks time out at 5 s). */
export const probeTimeoutMs = 2000;

/** Resolves with the promise's value, or undefined after `ms` (the promise is left to settle). */
export async function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Whether the database answers a trivial query in time. */
export async function pingDatabase(db: Db, timeoutMs = probeTimeoutMs): Promise<boolean> {
  const query = db.$queryRaw`SELECT 1`.then(
    () => true,
    () => false,
  );
  return (await withTimeout(query, timeoutMs)) ?? false;
}

/** Whether at least one media worker is alive and answers in time. */
export async function anyWorkerAlive(pool: MediaWorkerPool, timeoutMs = probeTimeoutMs): Promise<boolean> {
  const workers = await withTimeout(
    pool.health().catch(() => []),
    timeoutMs,
  );
  return workers?.some((worker) => worker.alive) ?? false;
}

export function registerHealthRoute(fastify: FastifyInstance, pool: MediaWorkerPool, db: Db): void {
  const schema = {
    tags: ['health'],
    summary: 'Whether this node can serve (a media worker alive, the database answering)',
    response: { 200: healthResponseSchema, 503: healthResponseSchema },
  };
  fastify.withTypeProvider<ZodTypeProvider>().get('/api/health', { schema }, async (request, reply) => {
    const [media, database] = await Promise.all([anyWorkerAlive(pool), pingDatabase(db)]);
    if (media && database) return reply.send({ status: 'ok' });
    request.log.warn({ media, database }, 'health check failed');
    return reply.code(503).send({ status: 'unavailable' });
  });
}
