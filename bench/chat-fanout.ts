// Chat fan-out benchmark: the real server (startServer, in this process) with P text-only
// peers joined to one room over real websockets; chatSend from one sender one message at a
// time (sequential), then from 10 senders with up to 8 requests in flight each (concurrent).
// Measures acknowledged (stored) and fully delivered messages per second and ack / delivery
// latencies, and checks on the way that every other peer got every message exactly once, in
// seq order per sender, and that the database holds exactly the messages sent.
//
// The peers run in a worker thread, so that parsing 49 copies of every message does not
// compete with the server for its event loop (the server keeps the main thread).
//
//   node --import tsx bench/chat-fanout.ts [--messages 500] [--peers 50] [--db embedded|postgres|both]
//     [--out bench-results/chat-fanout.json]
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { Worker, parentPort, workerData } from 'node:worker_threads';
import WebSocket from 'ws';
import { createIdentity } from '../tests/helpers/identity.js';
import { benchServerLimits } from './limits.js';

export type DbKind = 'embedded' | 'postgres';
export type Mode = 'sequential' | 'concurrent';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const WORKER_ROLE = 'chat-fanout-clients';
const REQUEST_TIMEOUT_MS = 60_000;
/** Delivery is given up (and reported as missing) after this long without any progress. */
const STALL_TIMEOUT_MS = 15_000;

// ---------------------------------------------------------------------------------------
// A minimal protoo client over `ws` (shared with bench/chat-history.ts).

interface ProtooMessage {
  request?: boolean;
  response?: boolean;
  notification?: boolean;
  id?: number;
  ok?: boolean;
  method?: string;
  data?: unknown;
  errorCode?: number;
  errorReason?: string;
}

export class BenchPeer {
  readonly ws: WebSocket;
  onNotification: ((method: string, data: unknown, at: number) => void) | undefined;
  #nextId = 1;
  readonly #pending = new Map<
    number,
    { resolve: (data: unknown) => void; reject: (error: Error) => void; timer: NodeJS.Timeout }
  >();

  private constructor(ws: WebSocket) {
    this.ws = ws;
    ws.on('message', (raw) => {
      const at = performance.now();
      const message = JSON.parse(String(raw)) as ProtooMessage;
      if (message.response === true && typeof message.id === 'number') {
        const pending = this.#pending.get(message.id);
        if (!pending) return;
        this.#pending.delete(message.id);
        clearTimeout(pending.timer);
        if (message.ok === true) pending.resolve(message.data);
        else pending.reject(new Error(`${String(message.errorCode)} ${String(message.errorReason)}`));
      } else if (message.notification === true && message.method) {
        this.onNotification?.(message.method, message.data, at);
      }
    });
    ws.on('close', () => {
      for (const [id, pending] of this.#pending) {
        clearTimeout(pending.timer);
        pending.reject(new Error(`socket closed before the response to request ${id}`));
      }
      this.#pending.clear();
    });
  }

  /** Opens the room's websocket with the identity cookie and the protoo subprotocol. */
  static open(url: string, cookie: string): Promise<BenchPeer> {
    const ws = new WebSocket(url, 'protoo', { headers: { Cookie: cookie } });
    const peer = new BenchPeer(ws);
    return new Promise((resolve, reject) => {
      ws.once('open', () => resolve(peer));
      ws.once('error', reject);
    });
  }

  /** getRouterRtpCapabilities, then join with those capabilities (text only: no media). */
  static async join(url: string, cookie: string, displayName: string): Promise<BenchPeer> {
    const peer = await BenchPeer.open(url, cookie);
    const rtpCapabilities = await peer.request('getRouterRtpCapabilities', {});
    await peer.request('join', { displayName, rtpCapabilities });
    return peer;
  }

  request<T = unknown>(method: string, data: unknown): Promise<T> {
    const id = this.#nextId++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new Error(`${method} (request ${id}) timed out`));
      }, REQUEST_TIMEOUT_MS);
      this.#pending.set(id, { resolve: resolve as (data: unknown) => void, reject, timer });
      this.ws.send(JSON.stringify({ request: true, id, method, data }));
    });
  }

  async close(): Promise<void> {
    if (this.ws.readyState === WebSocket.CLOSED) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.ws.terminate();
        resolve();
      }, 2000);
      this.ws.once('close', () => {
        clearTimeout(timer);
        resolve();
      });
      this.ws.close();
    });
  }
}

// ---------------------------------------------------------------------------------------
// Statistics and output helpers (shared with bench/chat-history.ts).

/** Nearest-rank percentile of unsorted values (p in 0..100). */
export function percentile(values: ArrayLike<number>, p: number): number {
  const sorted = Array.from(values).sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[Math.min(rank, sorted.length) - 1] as number;
}

export const round = (value: number, digits = 1) => Number(value.toFixed(digits));

export function machineInfo() {
  const cpus = os.cpus();
  return {
    cpuModel: cpus[0]?.model ?? 'unknown',
    cpus: cpus.length,
    totalMemGiB: round(os.totalmem() / 1024 ** 3, 1),
    platform: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
    /** 1-minute load average when the run started (other work on the machine skews results). */
    loadAverage1m: round(os.loadavg()[0] ?? 0, 2),
  };
}

export function formatMachine(machine: ReturnType<typeof machineInfo>): string {
  return (
    `${machine.cpus} × ${machine.cpuModel}, ${machine.totalMemGiB} GiB RAM, ${machine.platform}, ` +
    `Node ${machine.node}; load average at start ${machine.loadAverage1m}, at end ${round(os.loadavg()[0] ?? 0, 2)}`
  );
}

/** A Markdown table (pasteable into docs as is). */
export function markdownTable(header: string[], rows: Array<Array<string | number>>): string {
  const cells = [header, ...rows.map((row) => row.map(String))];
  const widths = header.map((_, i) => Math.max(...cells.map((row) => (row[i] ?? '').length)));
  const line = (row: string[]) => `| ${row.map((cell, i) => cell.padEnd(widths[i] as number)).join(' | ')} |`;
  return [
    line(cells[0] as string[]),
    `| ${widths.map((w) => '-'.repeat(w)).join(' | ')} |`,
    ...cells.slice(1).map(line),
  ].join('\n');
}

export function writeJson(path: string, value: unknown): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, `${JSON.stringify(value, null, 2)}\n`);
}

/** True when `moduleUrl` is the script node was started with (not imported). */
export function isMain(moduleUrl: string): boolean {
  const script = process.argv[1];
  return script !== undefined && moduleUrl === pathToFileURL(resolve(script)).href;
}

export async function databaseVersion(prisma: {
  $queryRawUnsafe<T>(sql: string): Promise<T>;
}): Promise<string> {
  const rows = await prisma.$queryRawUnsafe<Array<{ version: string }>>('SELECT version() AS version');
  return (rows[0]?.version ?? '').replace(/ on .*/, '').replace(/,.*$/, '');
}

// ---------------------------------------------------------------------------------------
// The client side (worker thread): P peers, sends, receipts and their checks.

export interface ModeChecks {
  /** Requests that failed (error response or timeout). */
  sendErrors: number;
  /** Acks whose message is not the one sent (clientId, text or author differ). */
  ackMismatches: number;
  /** (message, receiver) pairs never delivered. */
  missing: number;
  /** Deliveries beyond the first of a message to a receiver. */
  duplicates: number;
  /** A receiver got a sender's message with a seq not above the previous one of that sender. */
  outOfOrderPerSender: number;
  /** A sender got its own message as a notification. */
  selfDeliveries: number;
  /** chatMessage notifications that belong to no message of this run. */
  unexpected: number;
}

export interface ModeMeasurement {
  mode: Mode;
  messages: number;
  senders: number;
  inFlightPerSender: number;
  receiversPerMessage: number;
  /** First send → last ack. */
  ackDurationMs: number;
  /** First send → last receipt by the last receiver. */
  deliveryDurationMs: number;
  ackedPerSecond: number;
  deliveredPerSecond: number;
  ackP50Ms: number;
  ackP95Ms: number;
  deliveryP50Ms: number;
  deliveryP95Ms: number;
  /** Informational: receipts whose seq is below one received earlier from any sender. */
  arrivalsBelowPreviousSeq: number;
  checks: ModeChecks;
}

interface WorkerSetup {
  role: typeof WORKER_ROLE;
  baseUrl: string;
  wsUrl: string;
  peers: number;
}

type Command =
  | { cmd: 'setup' }
  | { cmd: 'run'; mode: Mode; messages: number; senders: number; inFlight: number; prefix: string }
  | { cmd: 'close' };

interface ChatNotice {
  message: { seq: string; clientId: string | null; author: { id: string } | null };
}

class Clients {
  readonly setup: WorkerSetup;
  peers: BenchPeer[] = [];
  identities: Array<{ id: string; cookie: string }> = [];
  /** Receipt hook of the running mode. */
  onChat: ((receiver: number, notice: ChatNotice, at: number) => void) | undefined;

  constructor(setup: WorkerSetup) {
    this.setup = setup;
  }

  async open(): Promise<void> {
    const { baseUrl, wsUrl, peers } = this.setup;
    for (let i = 0; i < peers; i++) {
      const name = `bench-${String(i).padStart(3, '0')}`;
      const identity = await createIdentity(baseUrl, name);
      this.identities.push(identity);
      // Joined one after another: each join is announced to the peers already there.
      const peer = await BenchPeer.join(wsUrl, identity.cookie, name);
      peer.onNotification = (method, data, at) => {
        if (method === 'chatMessage') this.onChat?.(i, data as ChatNotice, at);
      };
      this.peers.push(peer);
    }
  }

  async run(
    mode: Mode,
    total: number,
    senderCount: number,
    inFlight: number,
    prefix: string,
  ): Promise<ModeMeasurement> {
    const peerCount = this.peers.length;
    const receivers = peerCount - 1;
    const senders = Math.max(1, Math.min(senderCount, peerCount));
    // Message i: its sender, clientId, text; timings and receipts.
    const senderOf = new Int32Array(total);
    const clientIds: string[] = [];
    const texts: string[] = [];
    const indexOf = new Map<string, number>();
    const perSender: number[][] = Array.from({ length: senders }, () => []);
    for (let i = 0; i < total; i++) {
      const sender = mode === 'sequential' ? 0 : i % senders;
      senderOf[i] = sender;
      perSender[sender]?.push(i);
      const clientId = `${prefix}-${String(i).padStart(6, '0')}`;
      clientIds.push(clientId);
      texts.push(
        `benchmark message ${i} from bench-${String(sender).padStart(3, '0')}: ${'lorem ipsum '.repeat(4)}`,
      );
      indexOf.set(clientId, i);
    }
    const sentAt = new Float64Array(total).fill(Number.NaN);
    const ackedAt = new Float64Array(total).fill(Number.NaN);
    const lastReceiptAt = new Float64Array(total).fill(Number.NaN);
    const receiptCount = new Int32Array(total);
    const seen = Array.from({ length: peerCount }, () => new Uint8Array(total));
    const lastSeqFrom = Array.from({ length: peerCount }, () => new Map<string, number>());
    const lastSeqAny = new Float64Array(peerCount).fill(-1);
    const senderIdentity = this.identities.map((identity) => identity.id);
    const checks: ModeChecks = {
      sendErrors: 0,
      ackMismatches: 0,
      missing: 0,
      duplicates: 0,
      outOfOrderPerSender: 0,
      selfDeliveries: 0,
      unexpected: 0,
    };
    let arrivalsBelowPreviousSeq = 0;
    let complete = 0;
    let lastProgress = performance.now();
    let wake: (() => void) | undefined;

    this.onChat = (receiver, notice, at) => {
      lastProgress = at;
      const index = notice.message.clientId === null ? undefined : indexOf.get(notice.message.clientId);
      if (index === undefined) {
        checks.unexpected++;
        return;
      }
      if (senderOf[index] === receiver) {
        checks.selfDeliveries++;
        return;
      }
      const seen_ = seen[receiver] as Uint8Array;
      if (seen_[index]) {
        checks.duplicates++;
        return;
      }
      seen_[index] = 1;
      const seq = Number(notice.message.seq);
      const authorId = notice.message.author?.id ?? '';
      const bySender = lastSeqFrom[receiver] as Map<string, number>;
      if (seq <= (bySender.get(authorId) ?? -1)) checks.outOfOrderPerSender++;
      bySender.set(authorId, seq);
      if (seq < (lastSeqAny[receiver] as number)) arrivalsBelowPreviousSeq++;
      else lastSeqAny[receiver] = seq;
      if (!(at <= (lastReceiptAt[index] as number))) lastReceiptAt[index] = at;
      receiptCount[index] = (receiptCount[index] as number) + 1;
      if (receiptCount[index] === receivers) {
        complete++;
        if (complete === total) wake?.();
      }
    };

    const send = async (i: number) => {
      const sender = senderOf[i] as number;
      const peer = this.peers[sender] as BenchPeer;
      sentAt[i] = performance.now();
      try {
        const { message } = await peer.request<{
          message: { clientId: string; text: string; author: { id: string } | null };
        }>('chatSend', { clientId: clientIds[i], text: texts[i] });
        ackedAt[i] = performance.now();
        lastProgress = ackedAt[i] as number;
        if (
          message.clientId !== clientIds[i] ||
          message.text !== (texts[i] as string).trim() ||
          message.author?.id !== senderIdentity[sender]
        )
          checks.ackMismatches++;
      } catch {
        checks.sendErrors++;
      }
    };

    const start = performance.now();
    if (mode === 'sequential') {
      for (let i = 0; i < total; i++) await send(i);
    } else {
      await Promise.all(
        perSender.map(async (queue) => {
          let next = 0;
          const lane = async () => {
            while (next < queue.length) await send(queue[next++] as number);
          };
          await Promise.all(Array.from({ length: Math.min(inFlight, queue.length) }, lane));
        }),
      );
    }
    // Every receipt, or no progress for STALL_TIMEOUT_MS.
    if (receivers > 0) {
      while (complete < total) {
        const waited = await new Promise<boolean>((resolve) => {
          wake = () => resolve(true);
          setTimeout(() => resolve(false), 250);
        });
        wake = undefined;
        if (!waited && performance.now() - lastProgress > STALL_TIMEOUT_MS) break;
      }
    }
    this.onChat = undefined;

    for (let i = 0; i < total; i++) checks.missing += receivers - (receiptCount[i] as number);
    const ackLatencies: number[] = [];
    const deliveryLatencies: number[] = [];
    let lastAck = start;
    let lastDelivery = start;
    for (let i = 0; i < total; i++) {
      const sent = sentAt[i] as number;
      if (!Number.isNaN(ackedAt[i] as number)) {
        ackLatencies.push((ackedAt[i] as number) - sent);
        lastAck = Math.max(lastAck, ackedAt[i] as number);
      }
      if (receiptCount[i] === receivers && receivers > 0) {
        deliveryLatencies.push((lastReceiptAt[i] as number) - sent);
        lastDelivery = Math.max(lastDelivery, lastReceiptAt[i] as number);
      }
    }
    const ackDurationMs = lastAck - start;
    const deliveryDurationMs = lastDelivery - start;
    return {
      mode,
      messages: total,
      senders,
      inFlightPerSender: mode === 'sequential' ? 1 : inFlight,
      receiversPerMessage: receivers,
      ackDurationMs: round(ackDurationMs),
      deliveryDurationMs: round(deliveryDurationMs),
      ackedPerSecond: round((ackLatencies.length / ackDurationMs) * 1000),
      deliveredPerSecond: round((deliveryLatencies.length / deliveryDurationMs) * 1000),
      ackP50Ms: round(percentile(ackLatencies, 50), 2),
      ackP95Ms: round(percentile(ackLatencies, 95), 2),
      deliveryP50Ms: round(percentile(deliveryLatencies, 50), 2),
      deliveryP95Ms: round(percentile(deliveryLatencies, 95), 2),
      arrivalsBelowPreviousSeq,
      checks,
    };
  }

  async close(): Promise<void> {
    await Promise.all(this.peers.map((peer) => peer.close()));
  }
}

function workerMain(setup: WorkerSetup): void {
  const port = parentPort;
  if (!port) return;
  const clients = new Clients(setup);
  port.on('message', (command: Command) => {
    const reply = (promise: Promise<unknown>) =>
      promise.then(
        (result) => port.postMessage({ ok: true, result }),
        (error: Error) => port.postMessage({ ok: false, error: error.stack ?? String(error) }),
      );
    if (command.cmd === 'setup') void reply(clients.open());
    else if (command.cmd === 'run')
      void reply(
        clients.run(command.mode, command.messages, command.senders, command.inFlight, command.prefix),
      );
    else void reply(clients.close());
  });
}

if (parentPort && (workerData as WorkerSetup | undefined)?.role === WORKER_ROLE) {
  workerMain(workerData as WorkerSetup);
}

/** The client worker, driven one command at a time. */
class ClientWorker {
  readonly #worker: Worker;
  #queue: Promise<unknown> = Promise.resolve();

  constructor(setup: Omit<WorkerSetup, 'role'>) {
    // tsx's loader is registered in the worker itself (a --import flag does not reach it).
    const code = `import('tsx/esm/api').then(({ register }) => { register(); return import(${JSON.stringify(
      import.meta.url,
    )}); })`;
    this.#worker = new Worker(code, { eval: true, workerData: { ...setup, role: WORKER_ROLE } });
  }

  call<T>(command: Command): Promise<T> {
    const next = this.#queue.then(
      () =>
        new Promise<T>((resolve, reject) => {
          const onMessage = (reply: { ok: boolean; result?: T; error?: string }) => {
            this.#worker.off('error', onError);
            if (reply.ok) resolve(reply.result as T);
            else reject(new Error(`client worker: ${reply.error}`));
          };
          const onError = (error: Error) => {
            this.#worker.off('message', onMessage);
            reject(error);
          };
          this.#worker.once('message', onMessage);
          this.#worker.once('error', onError);
          this.#worker.postMessage(command);
        }),
    );
    this.#queue = next.catch(() => undefined);
    return next;
  }

  async terminate(): Promise<void> {
    await this.#worker.terminate();
  }
}

// ---------------------------------------------------------------------------------------
// The benchmark (main thread: the server).

export interface FanoutOptions {
  messages: number;
  peers: number;
  databases: DbKind[];
  /** Senders of the concurrent mode. */
  senders?: number;
  /** Requests in flight per sender in the concurrent mode. */
  inFlight?: number;
  /** JSON output path; null: none. */
  out?: string | null;
  log?: (line: string) => void;
}

export interface FanoutRow extends ModeMeasurement {
  database: DbKind;
  databaseVersion: string;
  peers: number;
  /** Rows of this mode in the database after the run (must equal `messages`). */
  storedInDatabase: number;
  ok: boolean;
  failures: string[];
}

export interface FanoutResult {
  benchmark: 'chat-fanout';
  startedAt: string;
  machine: ReturnType<typeof machineInfo>;
  params: { messages: number; peers: number; senders: number; inFlight: number; databases: DbKind[] };
  rows: FanoutRow[];
  ok: boolean;
}

function failuresOf(row: Omit<FanoutRow, 'ok' | 'failures'>): string[] {
  const failures = Object.entries(row.checks)
    .filter(([, count]) => count !== 0)
    .map(([name, count]) => `${name}=${count}`);
  if (row.storedInDatabase !== row.messages)
    failures.push(`storedInDatabase=${row.storedInDatabase} (expected ${row.messages})`);
  return failures;
}

async function runOne(
  database: DbKind,
  options: Required<Omit<FanoutOptions, 'out' | 'databases'>>,
): Promise<FanoutRow[]> {
  const { startServer } = await import('../tests/helpers/server.js');
  const log = options.log;
  const server = await startServer(
    { ...benchServerLimits, LOG_LEVEL: 'warn', MAX_PEERS_PER_ROOM: String(Math.max(50, options.peers)) },
    { database },
  );
  const prisma = server.app.database.prisma;
  const version = await databaseVersion(prisma);
  const roomId = `bench-fanout-${process.pid}`;
  const clients = new ClientWorker({
    baseUrl: server.url,
    wsUrl: server.wsUrl(roomId),
    peers: options.peers,
  });
  const rows: FanoutRow[] = [];
  try {
    log(`[fanout] ${database} (${version}): joining ${options.peers} peers to room ${roomId}`);
    await clients.call({ cmd: 'setup' });
    for (const mode of ['sequential', 'concurrent'] as const) {
      const prefix = `fanout-${mode.slice(0, 3)}`;
      log(`[fanout] ${database}: ${mode}, ${options.messages} messages`);
      const measured = await clients.call<ModeMeasurement>({
        cmd: 'run',
        mode,
        messages: options.messages,
        senders: mode === 'sequential' ? 1 : options.senders,
        inFlight: options.inFlight,
        prefix,
      });
      const storedInDatabase = await prisma.message.count({
        where: { roomId, clientId: { startsWith: `${prefix}-` } },
      });
      const partial = {
        ...measured,
        database,
        databaseVersion: version,
        peers: options.peers,
        storedInDatabase,
      };
      const failures = failuresOf(partial);
      rows.push({ ...partial, ok: failures.length === 0, failures });
      log(
        `[fanout] ${database} ${mode}: ${measured.ackedPerSecond} acked/s, ${measured.deliveredPerSecond} delivered/s` +
          (failures.length ? `; FAILED: ${failures.join(', ')}` : '; checks ok'),
      );
    }
    await clients.call({ cmd: 'close' });
  } finally {
    await clients.terminate();
    await server.close();
  }
  return rows;
}

export function fanoutTable(rows: FanoutRow[]): string {
  return markdownTable(
    [
      'database',
      'mode',
      'msgs',
      'peers',
      'acked msg/s',
      'delivered msg/s',
      'ack p50 ms',
      'ack p95 ms',
      'delivery p50 ms',
      'delivery p95 ms',
      'arrivals below an earlier seq',
      'checks',
    ],
    rows.map((row) => [
      row.database,
      row.mode === 'sequential' ? 'sequential (1×1)' : `concurrent (${row.senders}×${row.inFlightPerSender})`,
      row.messages,
      row.peers,
      row.ackedPerSecond,
      row.deliveredPerSecond,
      row.ackP50Ms,
      row.ackP95Ms,
      row.deliveryP50Ms,
      row.deliveryP95Ms,
      row.arrivalsBelowPreviousSeq,
      row.ok ? 'ok' : `FAILED ${row.failures.join(' ')}`,
    ]),
  );
}

export async function runFanout(options: FanoutOptions): Promise<FanoutResult> {
  const settings = {
    messages: options.messages,
    peers: options.peers,
    senders: options.senders ?? 10,
    inFlight: options.inFlight ?? 8,
    log: options.log ?? ((line: string) => console.error(line)),
  };
  if (settings.peers < 2) throw new Error('--peers must be at least 2');
  const result: FanoutResult = {
    benchmark: 'chat-fanout',
    startedAt: new Date().toISOString(),
    machine: machineInfo(),
    params: {
      messages: settings.messages,
      peers: settings.peers,
      senders: Math.min(settings.senders, settings.peers),
      inFlight: settings.inFlight,
      databases: options.databases,
    },
    rows: [],
    ok: true,
  };
  for (const database of options.databases) result.rows.push(...(await runOne(database, settings)));
  result.ok = result.rows.every((row) => row.ok);
  if (options.out) writeJson(options.out, result);
  return result;
}

export function parseDatabases(value: string): DbKind[] {
  if (value === 'both') return ['embedded', 'postgres'];
  if (value === 'embedded' || value === 'postgres') return [value];
  throw new Error(`--db must be embedded, postgres or both (got ${value})`);
}

export async function main(argv: string[] = process.argv.slice(2)): Promise<FanoutResult> {
  const { values } = parseArgs({
    args: argv,
    options: {
      messages: { type: 'string', default: '500' },
      peers: { type: 'string', default: '50' },
      db: { type: 'string', default: 'both' },
      out: { type: 'string', default: join(repoRoot, 'bench-results', 'chat-fanout.json') },
    },
  });
  const messages = Number(values.messages);
  const peers = Number(values.peers);
  if (!Number.isInteger(messages) || messages < 1) throw new Error('--messages must be a positive integer');
  if (!Number.isInteger(peers) || peers < 2) throw new Error('--peers must be an integer ≥ 2');
  const result = await runFanout({ messages, peers, databases: parseDatabases(values.db), out: values.out });
  console.log(`\nChat fan-out: ${messages} messages per mode, ${peers} peers in one room`);
  console.log(`Machine: ${formatMachine(result.machine)}\n`);
  console.log(fanoutTable(result.rows));
  console.log(`\nJSON: ${values.out}`);
  if (!result.ok) {
    console.error('\ncorrectness checks FAILED (see the checks column)');
    process.exitCode = 1;
  }
  return result;
}

if (isMain(import.meta.url)) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
}
