// Starts the platform's server (bench/load/server-child.ts) in a child process. Its
// mediasoup worker pids (the SFU processes) are in its metrics (GET /metrics, with the
// METRICS_TOKEN generated here), as for any server.
import { fork, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { benchServerLimits } from '../limits.js';

export interface MeetServerProcess {
  url: string;
  /** The Node server process (signaling). */
  pid: number;
  /** The mediasoup-worker processes at start. */
  workerPids: number[];
  /** Bearer token of its /metrics. */
  metricsToken: string;
  close(): Promise<void>;
}

export async function startMeetServer(env: Record<string, string> = {}): Promise<MeetServerProcess> {
  const metricsToken = randomBytes(24).toString('hex');
  const child: ChildProcess = fork(fileURLToPath(new URL('./server-child.ts', import.meta.url)), [], {
    execArgv: ['--import', 'tsx'],
    env: {
      ...process.env,
      MEET_BENCH_SERVER_ENV: JSON.stringify({ ...benchServerLimits, METRICS_TOKEN: metricsToken, ...env }),
      TEST_LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'warn',
    },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const next = <T>(type: string): Promise<T> =>
    new Promise((resolve, reject) => {
      const onMessage = (message: { type: string }) => {
        if (message.type !== type) return;
        child.off('message', onMessage);
        child.off('exit', onExit);
        resolve(message as T);
      };
      const onExit = (code: number | null) => reject(new Error(`server process exited (${String(code)})`));
      child.on('message', onMessage);
      child.once('exit', onExit);
    });
  const ready = await next<{ url: string; pids: number[] }>('ready');
  return {
    url: ready.url,
    pid: child.pid as number,
    workerPids: ready.pids,
    metricsToken,
    async close() {
      if (child.exitCode !== null) return;
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.send({ type: 'close' });
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
