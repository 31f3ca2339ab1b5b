// Starts Debian's redis-server on a free loopback port for a test: no persistence, its own
// temporary directory, stopped (and the directory removed) by stop(). Never the system's
// redis on 6379: each test gets an empty one.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TestRedis {
  /** redis://127.0.0.1:<port> */
  url: string;
  port: number;
  stop(): Promise<void>;
}

const binary = '/usr/bin/redis-server';

/** A TCP port on 127.0.0.1 that was free a moment ago (the OS's choice). */
export async function freeTcpPort(host = '127.0.0.1'): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => resolve());
  });
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Sends PING over a raw socket; true when the answer is +PONG. */
export function redisPing(port: number, host = '127.0.0.1', timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host });
    let answer = '';
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.on('data', (data: Buffer) => {
      answer += data.toString();
      if (answer.includes('\r\n')) done(answer.startsWith('+PONG'));
    });
  });
}

export async function startRedis(): Promise<TestRedis> {
  if (!existsSync(binary))
    throw new Error('redis-server is not installed: run scripts/setup-system.sh --test (npm test does)');
  const dir = mkdtempSync(join(tmpdir(), 'meet-redis-'));
  // The port is free when chosen, not necessarily when redis binds it: then redis exits
  // ("Address already in use") and another port is tried.
  let lastOutput = '';
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freeTcpPort();
    const child: ChildProcess = spawn(
      binary,
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let output = '';
    const keep = (d: Buffer) => (output = (output + d.toString()).slice(-4000));
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    let exitedEarly = false;
    const exited = new Promise<void>((resolve) =>
      child.once('exit', () => {
        exitedEarly = true;
        resolve();
      }),
    );
    const deadline = Date.now() + 10_000;
    let ready = false;
    while (!exitedEarly && Date.now() < deadline) {
      if (await redisPing(port)) {
        ready = true;
        break;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    if (ready) {
      return {
        url: `redis://127.0.0.1:${port}`,
        port,
        async stop() {
          if (child.exitCode === null && child.signalCode === null) {
            child.kill('SIGTERM');
            const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
            await exited;
            clearTimeout(timer);
          }
          rmSync(dir, { recursive: true, force: true });
        },
      };
    }
    if (!exitedEarly) {
      child.kill('SIGKILL');
      await exited;
      rmSync(dir, { recursive: true, force: true });
      throw new Error(`redis-server did not answer PING on port ${port} within 10 s\n${output}`);
    }
    lastOutput = output;
  }
  rmSync(dir, { recursive: true, force: true });
  throw new Error(`redis-server did not start\n${lastOutput}`);
}
