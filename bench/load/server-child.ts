// Runs the platform's real server (tests/helpers/server.ts: Fastify + mediasoup workers,
// embedded database) in a process of its own, so that the load generator's CPU and the
// server's are not mixed. Talks to its parent over IPC: sends { ready, url, pids }, and
// closes on "close" (or when the parent goes away).
import { startServer } from '../../tests/helpers/server.js';

const env = JSON.parse(process.env.MEET_BENCH_SERVER_ENV ?? '{}') as Record<string, string>;
const server = await startServer(env);
const send = (message: unknown) => process.send?.(message);
send({ type: 'ready', url: server.url, pids: server.app.pool.pids() });
process.on('message', (message: { type: string }) => {
  if (message.type === 'close') {
    void server.close().finally(() => process.exit(0));
  }
});
process.on('disconnect', () => {
  void server.close().finally(() => process.exit(0));
});
