// Memory footprint benchmark: the real server (`node server/dist/main.js`, as `npm start`
// runs it, in a child process of its own) on the embedded database (PGlite) and on
// PostgreSQL. For each database it reports the resident memory (RSS) of the Node process and,
// separately, of its mediasoup workers:
//
//   first start  fresh data directory / database (the embedded one runs initdb), settled;
//   idle         the same data after a restart (what a running deployment looks like), settled;
//   loaded       right after P raw websocket peers joined R rooms (each with a send and a
//                recv WebRtcTransport), sent M chat messages and read their rooms' history;
//   loaded+settled  the same, peers still connected, after the settle time.
//
// Settled = sampled once a second for --settle seconds, the last sample reported (V8 compiles
// PGlite's WebAssembly in the background for a few seconds after the first queries, and frees
// that memory when done). "peak" is the Node process's VmHWM until then.
// On PostgreSQL the database's own memory is in the PostgreSQL server's processes, not in the
// Node process: the backends serving this server are reported too (private memory, RssAnon).
// Numbers only, no thresholds (capacity goals are checked by reading them).
//
//   npx tsc -b && node --import tsx bench/footprint.ts [--db embedded|postgres|both] [--peers 20]
//     [--rooms 4] [--messages 400] [--settle 30] [--workers 2] [--node-args=<node flags>]
//     [--out bench-results/footprint.json]
// The server inherits this process's environment (e.g. MALLOC_* variables to compare).
// --node-args: extra node command-line flags for the server process (e.g. V8 flags).
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { createIdentity } from '../tests/helpers/identity.js';
import { adminUrl, createTestDatabase } from '../tests/helpers/postgres.js';
import {
  BenchPeer,
  formatMachine,
  isMain,
  machineInfo,
  markdownTable,
  parseDatabases,
  writeJson,
  type DbKind,
} from './chat-fanout.js';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const serverEntry = join(repoRoot, 'server/dist/main.js');
const READY_TIMEOUT_MS = 120_000;

const log = (message: string) =>
  console.error(`[footprint ${new Date().toISOString().slice(11, 19)}] ${message}`);

// ---------------------------------------------------------------------------------------
// Memory of processes, from /proc (Linux).

interface ProcMemory {
  pid: number;
  rssMiB: number;
  anonMiB: number;
  fileMiB: number;
  peakMiB: number;
}

const mib = (kib: number) => Math.round((kib / 1024) * 10) / 10;

function procMemory(pid: number): ProcMemory | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kib = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0);
    return {
      pid,
      rssMiB: mib(kib('VmRSS')),
      anonMiB: mib(kib('RssAnon')),
      fileMiB: mib(kib('RssFile')),
      peakMiB: mib(kib('VmHWM')),
    };
  } catch {
    return undefined;
  }
}

/** Pids of the direct children of `parent` whose command name starts with `comm`. */
function childPids(parent: number, comm: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === parent && name.startsWith(comm)) pids.push(Number(entry));
    } catch {
      // the process went away meanwhile
    }
  }
  return pids.sort((a, b) => a - b);
}

// ---------------------------------------------------------------------------------------
// The server in a child process.

/**
 * Preloaded into the server process: answers "memoryUsage" over the IPC channel with
 * process.memoryUsage(), and stops the server (SIGTERM, its normal shutdown) if this
 * benchmark goes away.
 */
const preload = `if (process.send) {
  process.on('message', (m) => { if (m === 'memoryUsage') process.send({ memoryUsage: process.memoryUsage() }); });
  process.on('disconnect', () => process.kill(process.pid, 'SIGTERM'));
  process.channel?.unref();
}`;

interface NodeMemoryUsage {
  rss: number;
  heapTotal: number;
  heapUsed: number;
  external: number;
  arrayBuffers: number;
}

class ServerProcess {
  readonly url: string;
  readonly child: ChildProcess;

  private constructor(child: ChildProcess, url: string) {
    this.child = child;
    this.url = url;
  }

  static async start(env: Record<string, string>, nodeArgs: string[]): Promise<ServerProcess> {
    const port = await freeTcpPort();
    const args = [
      ...nodeArgs,
      '--import',
      `data:text/javascript,${encodeURIComponent(preload)}`,
      serverEntry,
    ];
    const child = spawn(process.execPath, args, {
      cwd: repoRoot,
      env: { ...process.env, ...env, PORT: String(port), HOST: '127.0.0.1' },
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    });
    const url = `http://127.0.0.1:${port}`;
    const exited = new Promise<never>((_resolve, reject) =>
      child.once('exit', (code, signal) =>
        reject(new Error(`the server exited during start-up (${String(code ?? signal)})`)),
      ),
    );
    exited.catch(() => undefined);
    const deadline = Date.now() + READY_TIMEOUT_MS;
    for (;;) {
      const ok = await Promise.race([
        fetch(`${url}/api/health`).then(
          (response) => response.ok,
          () => false,
        ),
        exited,
      ]);
      if (ok) break;
      if (Date.now() > deadline) {
        child.kill('SIGKILL');
        throw new Error(`the server did not become healthy within ${READY_TIMEOUT_MS / 1000} s`);
      }
      await sleep(100);
    }
    return new ServerProcess(child, url);
  }

  get pid(): number {
    return this.child.pid as number;
  }

  wsUrl(roomId: string): string {
    return `${this.url.replace('http', 'ws')}/ws?roomId=${encodeURIComponent(roomId)}`;
  }

  workerPids(): number[] {
    return childPids(this.pid, 'mediasoup-work');
  }

  memoryUsage(): Promise<NodeMemoryUsage> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no memoryUsage answer from the server')), 5000);
      this.child.once('message', (message: { memoryUsage: NodeMemoryUsage }) => {
        clearTimeout(timer);
        resolve(message.memoryUsage);
      });
      this.child.send('memoryUsage');
    });
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 15_000);
    await exited;
    clearTimeout(timer);
  }
}

function freeTcpPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Warns when a server source file is newer than its build (the benchmark runs the build). */
function warnIfBuildIsStale(): void {
  if (!existsSync(serverEntry))
    throw new Error(`${relative(repoRoot, serverEntry)} is missing: run "npx tsc -b" first`);
  const stale: string[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) {
        if (entry.name !== 'generated') walk(path);
      } else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts')) {
        const built = path.replace('/server/src/', '/server/dist/').replace(/\.ts$/, '.js');
        if (!existsSync(built) || statSync(built).mtimeMs < statSync(path).mtimeMs)
          stale.push(relative(repoRoot, path));
      }
    }
  };
  walk(join(repoRoot, 'server/src'));
  if (stale.length)
    log(`WARNING: built files older than their source (run "npx tsc -b"): ${stale.join(', ')}`);
}

// ---------------------------------------------------------------------------------------
// Samples.

interface Sample {
  database: DbKind;
  phase: string;
  node: ProcMemory;
  heap: NodeMemoryUsage;
  workers: ProcMemory[];
  /** PostgreSQL backends serving this server (postgres only). */
  backends: ProcMemory[];
}

async function backendPids(databaseName: string | undefined): Promise<number[]> {
  if (!databaseName) return [];
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const { rows } = await client.query<{ pid: number }>(
      'SELECT pid FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()',
      [databaseName],
    );
    return rows.map((row) => row.pid);
  } finally {
    await client.end();
  }
}

async function sample(
  server: ServerProcess,
  database: DbKind,
  phase: string,
  databaseName: string | undefined,
): Promise<Sample> {
  const heap = await server.memoryUsage();
  const node = procMemory(server.pid);
  if (!node) throw new Error('the server process is gone');
  return {
    database,
    phase,
    node,
    heap,
    workers: server.workerPids().flatMap((pid) => procMemory(pid) ?? []),
    backends: (await backendPids(databaseName)).flatMap((pid) => procMemory(pid) ?? []),
  };
}

/** Samples once a second for `seconds`, logs the RSS trail, returns the last sample. */
async function settle(
  server: ServerProcess,
  database: DbKind,
  phase: string,
  seconds: number,
  databaseName: string | undefined,
): Promise<Sample> {
  const trail: number[] = [];
  for (let i = 0; i < seconds; i++) {
    await sleep(1000);
    trail.push(Math.round(procMemory(server.pid)?.rssMiB ?? 0));
  }
  log(`${database} ${phase}: Node RSS each second (MiB): ${trail.join(' ')}`);
  return sample(server, database, phase, databaseName);
}

// ---------------------------------------------------------------------------------------
// Load: P peers in R rooms, M chat messages, every peer reads its room's whole history.

interface LoadOptions {
  peers: number;
  rooms: number;
  messages: number;
}

interface HistoryPage {
  messages: Array<{ seq: string }>;
  hasMore: boolean;
}

async function load(
  server: ServerProcess,
  options: LoadOptions,
): Promise<{ peers: BenchPeer[]; stored: number }> {
  const roomIds = Array.from({ length: options.rooms }, (_, i) => `footprint-${i}`);
  const peers: Array<{ peer: BenchPeer; roomId: string }> = [];
  for (let i = 0; i < options.peers; i++) {
    const roomId = roomIds[i % roomIds.length] as string;
    const identity = await createIdentity(server.url, `peer ${i}`);
    const peer = await BenchPeer.join(server.wsUrl(roomId), identity.cookie, `peer ${i}`);
    await peer.request('createWebRtcTransport', { direction: 'send' });
    await peer.request('createWebRtcTransport', { direction: 'recv' });
    peers.push({ peer, roomId });
  }
  // Every peer sends its share one message at a time, all peers at once.
  let stored = 0;
  await Promise.all(
    peers.map(async ({ peer }, p) => {
      for (let m = p; m < options.messages; m += peers.length) {
        await peer.request('chatSend', {
          clientId: `footprint-${p}-${m}`,
          text: `message ${m} from peer ${p}: ${'lorem ipsum dolor sit amet '.repeat(3)}`,
        });
        stored++;
      }
    }),
  );
  // Every peer pages through its room's whole history, 50 at a time.
  await Promise.all(
    peers.map(async ({ peer }) => {
      let beforeSeq: string | undefined;
      for (;;) {
        const page = await peer.request<HistoryPage>(
          'chatHistory',
          beforeSeq === undefined ? { limit: 50 } : { beforeSeq, limit: 50 },
        );
        const last = page.messages.at(-1);
        if (!page.hasMore || !last) break;
        beforeSeq = last.seq;
      }
    }),
  );
  return { peers: peers.map(({ peer }) => peer), stored };
}

// ---------------------------------------------------------------------------------------

export interface FootprintOptions extends LoadOptions {
  databases: DbKind[];
  settleSeconds: number;
  workers: number;
  /** Extra node flags for the server process. */
  nodeArgs: string[];
}

async function measure(database: DbKind, options: FootprintOptions): Promise<Sample[]> {
  const dataDir = mkdtempSync(join(tmpdir(), 'meet-footprint-'));
  const testDatabase = database === 'postgres' ? await createTestDatabase() : undefined;
  const databaseName = testDatabase ? new URL(testDatabase.url).pathname.slice(1) : undefined;
  const env: Record<string, string> = {
    LOG_LEVEL: 'warn',
    MEDIA_WORKERS: String(options.workers),
    RTC_LISTEN_IP: '127.0.0.1',
    RTC_ANNOUNCED_ADDRESS: '127.0.0.1',
    RTC_PORT: String(20000 + Math.floor(Math.random() * 12000)),
    DATA_DIR: dataDir,
    ...(testDatabase ? { DATABASE_URL: testDatabase.url } : {}),
  };
  const samples: Sample[] = [];
  let server: ServerProcess | undefined;
  let peers: BenchPeer[] = [];
  try {
    log(`${database}: first start (fresh data)`);
    server = await ServerProcess.start(env, options.nodeArgs);
    samples.push(await settle(server, database, 'first start', options.settleSeconds, databaseName));
    await server.stop();

    log(`${database}: restart on the same data`);
    server = await ServerProcess.start(env, options.nodeArgs);
    samples.push(await settle(server, database, 'idle', options.settleSeconds, databaseName));

    log(
      `${database}: ${options.peers} peers in ${options.rooms} rooms, ${options.messages} messages, history`,
    );
    const loaded = await load(server, options);
    peers = loaded.peers;
    if (loaded.stored !== options.messages) throw new Error(`only ${loaded.stored} messages were stored`);
    samples.push(await sample(server, database, 'loaded', databaseName));
    samples.push(await settle(server, database, 'loaded+settled', options.settleSeconds, databaseName));
  } finally {
    await Promise.all(peers.map((peer) => peer.close()));
    await server?.stop();
    await testDatabase?.drop();
    rmSync(dataDir, { recursive: true, force: true });
  }
  return samples;
}

/** The glibc malloc tuning variables in the environment, if any (they change the figures). */
function mallocEnv(): string {
  return Object.entries(process.env)
    .filter(([name]) => name.startsWith('MALLOC_') || name === 'GLIBC_TUNABLES')
    .map(([name, value]) => `${name}=${String(value)}`)
    .join(' ');
}

const m = (bytes: number) => (bytes / 1024 ** 2).toFixed(0);

export function footprintTable(samples: Sample[]): string {
  return markdownTable(
    [
      'database',
      'phase',
      'Node RSS MiB',
      'anon / file',
      'peak',
      'heap used / external',
      'workers RSS MiB',
      'PostgreSQL backends (anon)',
    ],
    samples.map((s) => [
      s.database,
      s.phase,
      s.node.rssMiB.toFixed(0),
      `${s.node.anonMiB.toFixed(0)} / ${s.node.fileMiB.toFixed(0)}`,
      s.node.peakMiB.toFixed(0),
      `${m(s.heap.heapUsed)} / ${m(s.heap.external)}`,
      `${s.workers.reduce((sum, w) => sum + w.rssMiB, 0).toFixed(0)} (${s.workers.map((w) => w.rssMiB.toFixed(0)).join(' + ')})`,
      s.database === 'postgres'
        ? `${s.backends.reduce((sum, b) => sum + b.anonMiB, 0).toFixed(0)} (${s.backends.length})`
        : '—',
    ]),
  );
}

export async function main(argv: string[] = process.argv.slice(2)): Promise<Sample[]> {
  const { values } = parseArgs({
    args: argv,
    options: {
      db: { type: 'string', default: 'both' },
      peers: { type: 'string', default: '20' },
      rooms: { type: 'string', default: '4' },
      messages: { type: 'string', default: '400' },
      settle: { type: 'string', default: '30' },
      workers: { type: 'string', default: '2' },
      'node-args': { type: 'string', default: '' },
      out: { type: 'string', default: 'bench-results/footprint.json' },
    },
  });
  const positive = (name: 'peers' | 'rooms' | 'messages' | 'settle' | 'workers') => {
    const value = Number(values[name]);
    if (!Number.isInteger(value) || value < 1) throw new Error(`--${name} must be a positive integer`);
    return value;
  };
  const options: FootprintOptions = {
    databases: parseDatabases(values.db),
    peers: positive('peers'),
    rooms: positive('rooms'),
    messages: positive('messages'),
    settleSeconds: positive('settle'),
    workers: positive('workers'),
    nodeArgs: values['node-args'].split(/\s+/).filter(Boolean),
  };
  warnIfBuildIsStale();
  const machine = machineInfo();
  const samples: Sample[] = [];
  for (const database of options.databases) samples.push(...(await measure(database, options)));
  console.log(
    `\nMemory footprint: ${options.workers} media workers; load = ${options.peers} peers in ${options.rooms} rooms ` +
      `(2 WebRtcTransports each), ${options.messages} chat messages, every peer reads its room's history; ` +
      `settled = after ${options.settleSeconds} s` +
      `${options.nodeArgs.length ? `; server node flags: ${options.nodeArgs.join(' ')}` : ''}` +
      `${mallocEnv() ? `; ${mallocEnv()}` : ''}\n${formatMachine(machine)}\n`,
  );
  console.log(footprintTable(samples));
  const out = resolve(repoRoot, values.out);
  writeJson(out, { machine, options, mallocEnv: mallocEnv(), samples });
  console.log(`\n(written to ${relative(repoRoot, out)})`);
  return samples;
}

if (isMain(import.meta.url)) {
  main().then(
    () => process.exit(0),
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
}
