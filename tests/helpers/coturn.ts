// Starts Debian's coturn (`turnserver`) on loopback for a test. This test configuration
// allows loopback peers (the SFU listens on 127.0.0.1 here); the shipped turnserver.conf
// does not.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitForStun } from './turn-client.js';

export interface TestCoturn {
  port: number;
  secret: string;
  realm: string;
  url: string;
  stop(): Promise<void>;
}

export async function startCoturn(): Promise<TestCoturn> {
  const binary = '/usr/bin/turnserver';
  if (!existsSync(binary))
    throw new Error('coturn is not installed: run scripts/setup-system.sh --test (npm test does)');
  const port = 34000 + (process.pid % 500) * 2;
  const secret = randomBytes(24).toString('hex');
  const realm = 'meet.test';
  const dir = mkdtempSync(join(tmpdir(), 'meet-coturn-'));
  const config = join(dir, 'turnserver.conf');
  writeFileSync(
    config,
    [
      `listening-ip=127.0.0.1`,
      `relay-ip=127.0.0.1`,
      `listening-port=${port}`,
      `min-port=${port + 20000}`,
      `max-port=${port + 20100}`,
      'use-auth-secret',
      `static-auth-secret=${secret}`,
      `realm=${realm}`,
      'fingerprint',
      'no-tls',
      'no-dtls',
      'no-cli',
      'no-multicast-peers',
      'allow-loopback-peers',
      `pidfile=${join(dir, 'turnserver.pid')}`,
      `userdb=${join(dir, 'turndb')}`,
      'log-file=stdout',
      'simple-log',
    ].join('\n'),
  );
  const child: ChildProcess = spawn(binary, ['-c', config], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    await waitForStun('127.0.0.1', port);
  } catch (error) {
    child.kill('SIGKILL');
    throw new Error(`coturn did not start: ${(error as Error).message}\n${output.slice(-2000)}`);
  }
  return {
    port,
    secret,
    realm,
    url: `turn:127.0.0.1:${port}?transport=udp`,
    async stop() {
      child.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))]);
      child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
