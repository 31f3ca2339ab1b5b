// Several app nodes behind a load balancer, for the cluster tests. A node is the real server
// in a child process (`node --import tsx server/src/main.ts`, configured through its
// environment as in production), so that a test can kill one outright; the load balancer is
// Debian's haproxy (scripts/setup-system.sh --test installs both redis-server and haproxy).
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freeTcpPort } from './redis.js';
import { freeRtcPorts } from './server.js';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
const haproxyBinary = '/usr/sbin/haproxy';
const verbose = Boolean(process.env.TEST_LOG_LEVEL);

/** What a node inherits from the test's environment; its configuration comes only from startNode. */
const inherited = ['PATH', 'HOME', 'TMPDIR', 'LANG', 'TZ', 'MEDIASOUP_WORKER_BIN', 'MEET_CACHE_DIR'];

// Children still running when the test process exits (a test that crashed before its
// after() hook) are killed, so that no server or haproxy outlives the test run.
const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

/** The last `max` lines a child printed; copied to the test's stderr when TEST_LOG_LEVEL is set. */
class OutputTail {
  #lines: string[] = [];
  #partial = '';
  constructor(
    private readonly prefix: string,
    private readonly max = 50,
  ) {}
  push(data: Buffer): void {
    const text = this.#partial + data.toString();
    const lines = text.split('\n');
    this.#partial = lines.pop() ?? '';
    for (const line of lines) {
      if (verbose) process.stderr.write(`${this.prefix} ${line}\n`);
      this.#lines.push(line);
    }
    if (this.#lines.length > this.max) this.#lines.splice(0, this.#lines.length - this.max);
  }
  toString(): string {
    return [...this.#lines, this.#partial].filter(Boolean).join('\n');
  }
}

interface Spawned {
  child: ChildProcess;
  output: OutputTail;
  /** Exit code, or null when a signal ended it. */
  exited: Promise<number | null>;
  /** Whether it is still running (false too when it could not be started at all). */
  running(): boolean;
}

function spawnTracked(
  command: string,
  args: string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv; prefix: string },
): Spawned {
  const child = spawn(command, args, {
    cwd: options.cwd,
    env: options.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  live.add(child);
  const output = new OutputTail(options.prefix);
  let ended = false;
  child.stdout?.on('data', (d: Buffer) => output.push(d));
  child.stderr?.on('data', (d: Buffer) => output.push(d));
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code) => {
      ended = true;
      live.delete(child);
      resolve(code);
    });
    // A spawn failure (binary missing) emits 'error' and maybe no 'exit'.
    child.once('error', (error) => {
      output.push(Buffer.from(`spawn failed: ${error.message}\n`));
      ended = true;
      live.delete(child);
      resolve(-1);
    });
  });
  return { child, output, exited, running: () => !ended };
}

/** SIGTERM, then SIGKILL if it has not exited after `graceMs`. */
async function terminate({ child, exited, running }: Spawned, graceMs: number): Promise<void> {
  if (!running()) return;
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

/**
 * Polls `url` until it answers 200; fails when `spawned` exits first or after `timeoutMs`,
 * with what the child printed last.
 */
async function waitUntilHealthy(
  url: string,
  spawned: Spawned,
  what: string,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer yet';
  for (;;) {
    if (!spawned.running())
      throw new Error(
        `${what} exited (code ${spawned.child.exitCode}, signal ${spawned.child.signalCode}) before ${url} answered 200; last output:\n${spawned.output}`,
      );
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(2000) });
      await response.body?.cancel();
      if (response.status === 200) return;
      last = `HTTP ${response.status}`;
    } catch (error) {
      last = (error as Error).message;
    }
    if (Date.now() > deadline)
      throw new Error(
        `${what}: ${url} did not answer 200 within ${timeoutMs / 1000} s (last: ${last}); last output:\n${spawned.output}`,
      );
    await new Promise((r) => setTimeout(r, 200));
  }
}

export interface TestNode {
  /** http://host:port */
  url: string;
  /** NODE_ID it runs with (the one given in env, else a fresh random one). */
  nodeId: string;
  process: ChildProcess;
  /** Sends a signal at once, SIGKILL unless told (a crash); see stop() for a clean stop. */
  kill(signal?: NodeJS.Signals): void;
  /** SIGTERM, SIGKILL after 10 s; then removes the data directory startNode made. */
  stop(): Promise<void>;
  /** Exit code, or null when a signal ended it. */
  exited: Promise<number | null>;
  /** The last lines it printed. */
  output(): string;
}

/**
 * Starts one app node: the real server in a child process, one media worker, HTTP and media
 * on `host` (127.0.0.1 by default), a fresh DATA_DIR unless env has one. `env` adds to or
 * overrides that: REDIS_URL, DATABASE_URL, NODE_ID, CLUSTER_PIPE_ADDRESS, ... Resolves once
 * GET /api/health answers 200 (60 s at most).
 */
export async function startNode(
  env: Record<string, string> = {},
  options: { host?: string } = {},
): Promise<TestNode> {
  const host = options.host ?? '127.0.0.1';
  const workers = Number(env.MEDIA_WORKERS ?? 1);
  const port = await freeTcpPort(host);
  const rtcPort = await freeRtcPorts(workers, env.RTC_LISTEN_IP ?? host);
  const nodeId = env.NODE_ID ?? `test-node-${randomBytes(4).toString('hex')}`;
  let dataDir: string | undefined;
  if (!env.DATA_DIR) dataDir = mkdtempSync(join(tmpdir(), 'meet-node-data-'));
  const childEnv: NodeJS.ProcessEnv = {};
  for (const name of inherited) if (process.env[name] !== undefined) childEnv[name] = process.env[name];
  Object.assign(childEnv, {
    PORT: String(port),
    HOST: host,
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'warn',
    MEDIA_WORKERS: String(workers),
    RTC_LISTEN_IP: host,
    RTC_ANNOUNCED_ADDRESS: host,
    RTC_PORT: String(rtcPort),
    NODE_ID: nodeId,
    ...(dataDir ? { DATA_DIR: dataDir } : {}),
    ...env,
  });
  const spawned = spawnTracked(process.execPath, ['--import', 'tsx', 'server/src/main.ts'], {
    cwd: repoRoot,
    env: childEnv,
    prefix: `[${nodeId}]`,
  });
  const removeData = () => {
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  };
  const url = `http://${host}:${port}`;
  try {
    await waitUntilHealthy(`${url}/api/health`, spawned, `node ${nodeId}`, 60_000);
  } catch (error) {
    await terminate(spawned, 2000);
    removeData();
    throw error;
  }
  return {
    url,
    nodeId,
    process: spawned.child,
    kill(signal = 'SIGKILL') {
      if (spawned.running()) spawned.child.kill(signal);
    },
    async stop() {
      await terminate(spawned, 10_000);
      removeData();
    },
    exited: spawned.exited,
    output: () => spawned.output.toString(),
  };
}

export interface TestLoadBalancer {
  /** http://127.0.0.1:port */
  url: string;
  /** The haproxy configuration it runs with. */
  config: string;
  stop(): Promise<void>;
  output(): string;
}

/** Response header the test load balancer adds: the backend (host:port) that answered. */
export const backendHeader = 'x-test-lb-backend';

/**
 * Starts haproxy in front of `backends` (http://host:port each): HTTP mode, round robin,
 * websockets passed (tunnel timeout 1 h), health checks on GET /api/health every 500 ms
 * (down after 2 failures, up after 2 successes), a failed connection retried on another
 * node. Each response carries `x-test-lb-backend: host:port` of the node that answered.
 * Resolves once a request through it reaches a backend.
 */
export async function startLoadBalancer(
  backends: string[],
  options: {
    /** `roundrobin` (default), or `first`: every connection to the first node that is up. */
    balance?: 'roundrobin' | 'first';
    /**
     * The backends' NODE_IDs, in order: a request naming one (`?node=<id>`, where a node
     * moved a signaling socket) goes to it, as deploy/haproxy.cfg does.
     */
    nodeIds?: string[];
  } = {},
): Promise<TestLoadBalancer> {
  if (!existsSync(haproxyBinary))
    throw new Error('haproxy is not installed: run scripts/setup-system.sh --test (npm test does)');
  if (backends.length === 0) throw new Error('startLoadBalancer: no backend');
  const port = await freeTcpPort();
  const dir = mkdtempSync(join(tmpdir(), 'meet-haproxy-'));
  const servers = backends.map((backend, i) => {
    const { hostname, port: backendPort } = new URL(backend);
    if (!backendPort) throw new Error(`backend ${backend}: no port`);
    return `  server node${i} ${hostname}:${backendPort} check inter 500ms fall 2 rise 2`;
  });
  const config = [
    'global',
    '  log stderr format raw local0 notice',
    '  maxconn 2000',
    '',
    'defaults',
    '  mode http',
    '  log global',
    '  option redispatch',
    '  retries 3',
    '  timeout connect 2s',
    '  timeout client 60s',
    '  timeout server 60s',
    // A websocket, once upgraded, is a tunnel: it may stay quiet between heartbeats.
    '  timeout tunnel 1h',
    '  timeout http-request 10s',
    '',
    'frontend web',
    `  bind 127.0.0.1:${port}`,
    '  option forwardfor',
    '  default_backend nodes',
    '',
    'backend nodes',
    `  balance ${options.balance ?? 'roundrobin'}`,
    '  option httpchk GET /api/health',
    '  http-check expect status 200',
    `  http-response set-header ${backendHeader} %si:%sp`,
    ...(options.nodeIds ?? []).map(
      (nodeId, i) => `  use-server node${i} if { url_param(node) -m str ${nodeId} }`,
    ),
    ...servers,
    '',
  ].join('\n');
  const file = join(dir, 'haproxy.cfg');
  writeFileSync(file, config);
  const spawned = spawnTracked(haproxyBinary, ['-f', file, '-db'], { prefix: '[haproxy]' });
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitUntilHealthy(`${url}/api/health`, spawned, 'haproxy', 30_000);
  } catch (error) {
    await terminate(spawned, 2000);
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  return {
    url,
    config,
    async stop() {
      await terminate(spawned, 5000);
      rmSync(dir, { recursive: true, force: true });
    },
    output: () => spawned.output.toString(),
  };
}
