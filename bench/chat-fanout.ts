// Chat fan-out benchmark: the real server (startServer, in this process) with text-only peers
// joined to rooms over real websockets, sending chatSend and receiving every other peer's
// messages. Scenarios (defaultScenarios): one sender one message at a time in a room of 50
// (sequential); all 50 peers of one room sending at once (one-room); 100 rooms of 10 peers,
// everyone sending, all at once (many-rooms). Measures acknowledged (stored) and fully
// delivered messages per second and p50/p95/p99 ack and delivery latencies, and checks that
// every receiver got exactly the stored messages of its room (but its own) once each, in seq
// order, and that every ack carries the stored seq.
//
// The peers run in a worker thread, so that parsing every copy of every message does not
// compete with the server for its event loop (the server keeps the main thread).
//
// With --nodes N (N ≥ 2, PostgreSQL only), N server nodes share the database and a Redis
// started for the run (Debian's redis-server): peer p of every room connects to node
// p mod N, so every room spans every node, and its messages cross the bus. The nodes run in
// this process (one thread between them: this measures what the cluster path costs, not
// what two machines would do).
//
//   node --import tsx bench/chat-fanout.ts [--db postgres|embedded|both] [--nodes N]
//     [--scenarios sequential,one-room,many-rooms] [--messages N (each scenario)]
//     [--out bench-results/chat-fanout.json] [--profile <dir>: the server thread's CPU profile per run]
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Session } from 'node:inspector/promises';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { Worker, parentPort, workerData } from 'node:worker_threads';
import WebSocket from 'ws';
import { createIdentity } from '../tests/helpers/identity.js';
import { benchServerLimits } from './limits.js';

export type DbKind = 'embedded' | 'postgres';

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
// Scenarios: who sends how much, in how many rooms at once.

export type ScenarioName = 'sequential' | 'one-room' | 'many-rooms';

export interface Scenario {
  name: ScenarioName;
  /** Rooms running at the same time, each with its own peers. */
  rooms: number;
  peersPerRoom: number;
  /** The first peers of each room send; every peer of the room receives. */
  sendersPerRoom: number;
  /** Requests each sender keeps in flight (it sends the next when one is answered). */
  inFlight: number;
  /** Messages in all, handed to the senders in turn. */
  messages: number;
}

export const defaultScenarios: Record<ScenarioName, Scenario> = {
  sequential: {
    name: 'sequential',
    rooms: 1,
    peersPerRoom: 50,
    sendersPerRoom: 1,
    inFlight: 1,
    messages: 500,
  },
  'one-room': {
    name: 'one-room',
    rooms: 1,
    peersPerRoom: 50,
    sendersPerRoom: 50,
    inFlight: 4,
    messages: 10_000,
  },
  'many-rooms': {
    name: 'many-rooms',
    rooms: 100,
    peersPerRoom: 10,
    sendersPerRoom: 10,
    inFlight: 2,
    messages: 20_000,
  },
};

// ---------------------------------------------------------------------------------------
// The client side (worker thread): the peers of a scenario, sends, receipts and their checks.

export interface ScenarioChecks {
  /** Requests that failed (error response or timeout). */
  sendErrors: number;
  /** Acks whose message is not the one sent (clientId, text, author), or whose seq is not the stored one. */
  ackMismatches: number;
  /** Acknowledged messages that are not in the database. */
  ackedNotStored: number;
  /** (message, receiver) pairs never delivered. */
  missing: number;
  /** Deliveries beyond the first of a message to a receiver. */
  duplicates: number;
  /** Receipts whose seq is not above the one the receiver got before (the room's order). */
  outOfOrder: number;
  /** A sender got its own message as a notification. */
  selfDeliveries: number;
  /** Receipts of another room's message, or of no message of this run. */
  unexpected: number;
  /** Messages stored (seq) out of the order their sender sent them in. */
  senderOrder: number;
  /**
   * Receivers whose receipts, in arrival order, are not exactly the room's stored messages in
   * seq order less their own: a gap, a repeat or a swap anywhere.
   */
  receiversOffStorage: number;
}

export interface ClientMeasurement {
  scenario: ScenarioName;
  rooms: number;
  peersPerRoom: number;
  senders: number;
  inFlightPerSender: number;
  messages: number;
  receiversPerMessage: number;
  /** First send → last ack. */
  ackDurationMs: number;
  /** First send → last receipt by the last receiver. */
  deliveryDurationMs: number;
  ackedPerSecond: number;
  deliveredPerSecond: number;
  ackP50Ms: number;
  ackP95Ms: number;
  ackP99Ms: number;
  deliveryP50Ms: number;
  deliveryP95Ms: number;
  deliveryP99Ms: number;
  /** Chat notifications (frames) received, and messages they carried per frame on average. */
  notifications: number;
  messagesPerNotification: number;
  /** Event-loop utilization of the client thread during the run (0–1). */
  clientLoopBusy: number;
  checks: ScenarioChecks;
}

/** The stored messages of a run, per room in seq order: message index and seq. */
export type StoredOrder = Array<{ index: number[]; seq: number[] }>;

interface WorkerSetup {
  role: typeof WORKER_ROLE;
}

type Command =
  | {
      cmd: 'open';
      /** Per room, the websocket URL on each node: peer p goes to node p mod nodes. */
      wsUrls: string[][];
      peersPerRoom: number;
      identities: Array<{ id: string; cookie: string }>;
    }
  | { cmd: 'run'; scenario: Scenario; prefix: string }
  | { cmd: 'verify'; stored: StoredOrder }
  | { cmd: 'close' };

interface ChatNotice {
  seq: string;
  clientId: string | null;
}

/** What a run leaves behind for its verification against the database. */
interface RunState {
  total: number;
  roomOf: Int32Array;
  senderPeerOf: Int32Array;
  ackSeq: Float64Array;
  acked: Uint8Array;
  /** Per receiving peer: message indices in arrival order. */
  receipts: number[][];
}

class Clients {
  peers: BenchPeer[] = [];
  identities: Array<{ id: string; cookie: string }> = [];
  peersPerRoom = 0;
  #last: RunState | undefined;

  /** Joins peersPerRoom peers to each room (20 joins at a time); peer p of every room is identity p. */
  async open(wsUrls: string[][], peersPerRoom: number, identities: Array<{ id: string; cookie: string }>) {
    this.identities = identities;
    this.peersPerRoom = peersPerRoom;
    const slots = wsUrls.flatMap((urls) =>
      Array.from({ length: peersPerRoom }, (_, p) => ({ url: urls[p % urls.length] as string, p })),
    );
    this.peers = new Array<BenchPeer>(slots.length);
    let next = 0;
    const worker = async () => {
      while (next < slots.length) {
        const g = next++;
        const { url, p } = slots[g] as { url: string; p: number };
        const identity = identities[p] as { cookie: string };
        this.peers[g] = await BenchPeer.join(url, identity.cookie, `bench-${String(p).padStart(3, '0')}`);
      }
    };
    await Promise.all(Array.from({ length: 20 }, worker));
  }

  async run(scenario: Scenario, prefix: string): Promise<ClientMeasurement> {
    const { rooms, peersPerRoom, sendersPerRoom, inFlight, messages: total } = scenario;
    const peerCount = this.peers.length;
    const receivers = peersPerRoom - 1;
    const senderPeers: number[] = [];
    for (let p = 0; p < sendersPerRoom; p++)
      for (let r = 0; r < rooms; r++) senderPeers.push(r * peersPerRoom + p);
    const roomOf = new Int32Array(total);
    const senderPeerOf = new Int32Array(total);
    const perSender: number[][] = senderPeers.map(() => []);
    const clientIds: string[] = [];
    const texts: string[] = [];
    const indexOf = new Map<string, number>();
    /** Position of a message among its room's messages (for the per-receiver seen arrays). */
    const slotInRoom = new Int32Array(total);
    const roomMessages = new Int32Array(rooms);
    for (let i = 0; i < total; i++) {
      const s = i % senderPeers.length;
      const peer = senderPeers[s] as number;
      senderPeerOf[i] = peer;
      const room = Math.floor(peer / peersPerRoom);
      roomOf[i] = room;
      slotInRoom[i] = roomMessages[room] as number;
      roomMessages[room] = (roomMessages[room] as number) + 1;
      perSender[s]?.push(i);
      const clientId = `${prefix}-${String(i).padStart(6, '0')}`;
      clientIds.push(clientId);
      texts.push(`benchmark message ${i} from peer ${peer}: ${'lorem ipsum '.repeat(4)}`);
      indexOf.set(clientId, i);
    }
    const sentAt = new Float64Array(total).fill(Number.NaN);
    const ackedAt = new Float64Array(total).fill(Number.NaN);
    const ackSeq = new Float64Array(total).fill(Number.NaN);
    const acked = new Uint8Array(total);
    const lastReceiptAt = new Float64Array(total).fill(Number.NaN);
    const receiptCount = new Int32Array(total);
    const seen = Array.from(
      { length: peerCount },
      (_, g) => new Uint8Array(roomMessages[Math.floor(g / peersPerRoom)] as number),
    );
    const lastSeq = new Float64Array(peerCount).fill(-1);
    const receipts: number[][] = Array.from({ length: peerCount }, () => []);
    const checks: ScenarioChecks = {
      sendErrors: 0,
      ackMismatches: 0,
      ackedNotStored: 0,
      missing: 0,
      duplicates: 0,
      outOfOrder: 0,
      selfDeliveries: 0,
      unexpected: 0,
      senderOrder: 0,
      receiversOffStorage: 0,
    };
    let notifications = 0;
    let received = 0;
    let complete = 0;
    let lastProgress = performance.now();
    let wake: (() => void) | undefined;

    const receive = (g: number, message: ChatNotice, at: number) => {
      received++;
      const index = message.clientId === null ? undefined : indexOf.get(message.clientId);
      if (index === undefined || roomOf[index] !== Math.floor(g / peersPerRoom)) {
        checks.unexpected++;
        return;
      }
      if (senderPeerOf[index] === g) {
        checks.selfDeliveries++;
        return;
      }
      const seen_ = seen[g] as Uint8Array;
      const slot = slotInRoom[index] as number;
      if (seen_[slot]) {
        checks.duplicates++;
        return;
      }
      seen_[slot] = 1;
      const seq = Number(message.seq);
      if (seq <= (lastSeq[g] as number)) checks.outOfOrder++;
      else lastSeq[g] = seq;
      (receipts[g] as number[]).push(index);
      if (!(at <= (lastReceiptAt[index] as number))) lastReceiptAt[index] = at;
      receiptCount[index] = (receiptCount[index] as number) + 1;
      if (receiptCount[index] === receivers) {
        complete++;
        if (complete === total) wake?.();
      }
    };
    this.peers.forEach((peer, g) => {
      peer.onNotification = (method, data, at) => {
        lastProgress = at;
        if (method === 'chatMessage') {
          notifications++;
          receive(g, (data as { message: ChatNotice }).message, at);
        } else if (method === 'chatMessages') {
          notifications++;
          for (const message of (data as { messages: ChatNotice[] }).messages) receive(g, message, at);
        }
      };
    });

    const send = async (i: number) => {
      const g = senderPeerOf[i] as number;
      const peer = this.peers[g] as BenchPeer;
      sentAt[i] = performance.now();
      try {
        const { message } = await peer.request<{
          message: { clientId: string; text: string; seq: string; author: { id: string } | null };
        }>('chatSend', { clientId: clientIds[i], text: texts[i] });
        ackedAt[i] = performance.now();
        lastProgress = ackedAt[i] as number;
        acked[i] = 1;
        ackSeq[i] = Number(message.seq);
        if (
          message.clientId !== clientIds[i] ||
          message.text !== (texts[i] as string).trim() ||
          message.author?.id !== this.identities[g % peersPerRoom]?.id
        )
          checks.ackMismatches++;
      } catch {
        checks.sendErrors++;
      }
    };

    const loopBefore = performance.eventLoopUtilization();
    const start = performance.now();
    await Promise.all(
      perSender.map(async (queue) => {
        let next = 0;
        const lane = async () => {
          while (next < queue.length) await send(queue[next++] as number);
        };
        await Promise.all(Array.from({ length: Math.min(inFlight, queue.length) }, lane));
      }),
    );
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
    const clientLoopBusy = performance.eventLoopUtilization(loopBefore).utilization;
    for (const peer of this.peers) peer.onNotification = undefined;

    for (let i = 0; i < total; i++) checks.missing += receivers - (receiptCount[i] as number);
    const ackLatencies: number[] = [];
    const deliveryLatencies: number[] = [];
    let lastAck = start;
    let lastDelivery = start;
    for (let i = 0; i < total; i++) {
      const sent = sentAt[i] as number;
      if (acked[i]) {
        ackLatencies.push((ackedAt[i] as number) - sent);
        lastAck = Math.max(lastAck, ackedAt[i] as number);
      }
      if (receiptCount[i] === receivers && receivers > 0) {
        deliveryLatencies.push((lastReceiptAt[i] as number) - sent);
        lastDelivery = Math.max(lastDelivery, lastReceiptAt[i] as number);
      }
    }
    this.#last = { total, roomOf, senderPeerOf, ackSeq, acked, receipts };
    const ackDurationMs = lastAck - start;
    const deliveryDurationMs = lastDelivery - start;
    return {
      scenario: scenario.name,
      rooms,
      peersPerRoom,
      senders: senderPeers.length,
      inFlightPerSender: inFlight,
      messages: total,
      receiversPerMessage: receivers,
      ackDurationMs: round(ackDurationMs),
      deliveryDurationMs: round(deliveryDurationMs),
      ackedPerSecond: round((ackLatencies.length / ackDurationMs) * 1000),
      deliveredPerSecond: round((deliveryLatencies.length / deliveryDurationMs) * 1000),
      ackP50Ms: round(percentile(ackLatencies, 50), 2),
      ackP95Ms: round(percentile(ackLatencies, 95), 2),
      ackP99Ms: round(percentile(ackLatencies, 99), 2),
      deliveryP50Ms: round(percentile(deliveryLatencies, 50), 2),
      deliveryP95Ms: round(percentile(deliveryLatencies, 95), 2),
      deliveryP99Ms: round(percentile(deliveryLatencies, 99), 2),
      notifications,
      messagesPerNotification: round(received / Math.max(1, notifications), 2),
      clientLoopBusy: round(clientLoopBusy, 2),
      checks,
    };
  }

  /**
   * Compares the last run with what the database holds: every ack's seq is the stored one,
   * each sender's messages were stored in the order sent, and every receiver got exactly the
   * room's stored messages (but its own), in seq order.
   */
  verify(
    stored: StoredOrder,
  ): Pick<ScenarioChecks, 'ackMismatches' | 'ackedNotStored' | 'senderOrder' | 'receiversOffStorage'> {
    const run = this.#last;
    if (!run) throw new Error('verify before run');
    const storedSeq = new Float64Array(run.total).fill(Number.NaN);
    for (const room of stored) room.index.forEach((index, k) => (storedSeq[index] = room.seq[k] as number));
    let ackMismatches = 0;
    let ackedNotStored = 0;
    for (let i = 0; i < run.total; i++) {
      if (!run.acked[i]) continue;
      if (Number.isNaN(storedSeq[i] as number)) ackedNotStored++;
      else if (storedSeq[i] !== run.ackSeq[i]) ackMismatches++;
    }
    let senderOrder = 0;
    const lastOfSender = new Map<number, number>();
    for (let i = 0; i < run.total; i++) {
      const seq = storedSeq[i] as number;
      if (Number.isNaN(seq)) continue;
      const sender = run.senderPeerOf[i] as number;
      if (seq <= (lastOfSender.get(sender) ?? -1)) senderOrder++;
      lastOfSender.set(sender, seq);
    }
    const orderOfRoom = new Map<number, number[]>();
    for (const room of stored) {
      const first = room.index[0];
      if (first !== undefined) orderOfRoom.set(run.roomOf[first] as number, room.index);
    }
    let receiversOffStorage = 0;
    run.receipts.forEach((got, g) => {
      const expected = (orderOfRoom.get(Math.floor(g / this.peersPerRoom)) ?? []).filter(
        (index) => run.senderPeerOf[index] !== g,
      );
      if (expected.length !== got.length || expected.some((index, k) => got[k] !== index))
        receiversOffStorage++;
    });
    return { ackMismatches, ackedNotStored, senderOrder, receiversOffStorage };
  }

  async close(): Promise<void> {
    await Promise.all(this.peers.map((peer) => peer.close()));
    this.peers = [];
  }
}

function workerMain(): void {
  const port = parentPort;
  if (!port) return;
  const clients = new Clients();
  port.on('message', (command: Command) => {
    const reply = (promise: Promise<unknown>) =>
      promise.then(
        (result) => port.postMessage({ ok: true, result }),
        (error: Error) => port.postMessage({ ok: false, error: error.stack ?? String(error) }),
      );
    if (command.cmd === 'open')
      void reply(clients.open(command.wsUrls, command.peersPerRoom, command.identities));
    else if (command.cmd === 'run') void reply(clients.run(command.scenario, command.prefix));
    else if (command.cmd === 'verify')
      void reply(Promise.resolve().then(() => clients.verify(command.stored)));
    else void reply(clients.close());
  });
}

if (parentPort && (workerData as WorkerSetup | undefined)?.role === WORKER_ROLE) workerMain();

/** The client worker, driven one command at a time. */
class ClientWorker {
  readonly #worker: Worker;
  #queue: Promise<unknown> = Promise.resolve();

  constructor() {
    // tsx's loader is registered in the worker itself (a --import flag does not reach it).
    const code = `import('tsx/esm/api').then(({ register }) => { register(); return import(${JSON.stringify(
      import.meta.url,
    )}); })`;
    this.#worker = new Worker(code, { eval: true, workerData: { role: WORKER_ROLE } satisfies WorkerSetup });
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
  databases: DbKind[];
  scenarios: Scenario[];
  /** JSON output path; null: none. */
  out?: string | null;
  /** A directory for a CPU profile of the server's thread during each run (none: no profile). */
  profileDir?: string;
  /** Server nodes (sharing PostgreSQL and a Redis); 1: a single node, no Redis. */
  nodes?: number;
  log?: (line: string) => void;
}

export interface FanoutRow extends ClientMeasurement {
  database: DbKind;
  /** Server nodes the room's peers were spread over. */
  nodes: number;
  databaseVersion: string;
  /** Event-loop utilization of the server's thread during the run (0–1). */
  serverLoopBusy: number;
  /** 1-minute load average before and after the run (others use the same two cores). */
  loadAverage: [number, number];
  /** Rows of this run in the database afterwards (must equal `messages`). */
  storedInDatabase: number;
  ok: boolean;
  failures: string[];
}

export interface FanoutResult {
  benchmark: 'chat-fanout';
  startedAt: string;
  machine: ReturnType<typeof machineInfo>;
  params: { databases: DbKind[]; scenarios: Scenario[]; nodes: number };
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

const loadAverage = () => round(os.loadavg()[0] ?? 0, 2);

/** Profiles this thread (the server's) while `work` runs, into `dir` (when given). */
async function profiled<T>(dir: string | undefined, name: string, work: () => Promise<T>): Promise<T> {
  if (!dir) return work();
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.start');
  try {
    return await work();
  } finally {
    const { profile } = await session.post('Profiler.stop');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, `${name}.cpuprofile`), JSON.stringify(profile));
    session.disconnect();
  }
}

async function runOne(
  database: DbKind,
  scenarios: Scenario[],
  log: (line: string) => void,
  profileDir?: string,
  nodes = 1,
): Promise<FanoutRow[]> {
  const { startServer } = await import('../tests/helpers/server.js');
  const maxPeers = Math.max(...scenarios.map((s) => s.peersPerRoom));
  const env = { ...benchServerLimits, LOG_LEVEL: 'warn', MAX_PEERS_PER_ROOM: String(Math.max(50, maxPeers)) };
  const servers: Array<Awaited<ReturnType<typeof startServer>>> = [];
  const stops: Array<() => Promise<void>> = [];
  if (nodes > 1) {
    if (database !== 'postgres') throw new Error('--nodes needs --db postgres (nodes share one PostgreSQL)');
    const { startRedis } = await import('../tests/helpers/redis.js');
    const { createTestDatabase } = await import('../tests/helpers/postgres.js');
    const redis = await startRedis();
    stops.push(() => redis.stop());
    const shared = await createTestDatabase();
    stops.push(() => shared.drop());
    for (let n = 0; n < nodes; n++)
      servers.push(
        await startServer(
          {
            ...env,
            REDIS_URL: redis.url,
            DATABASE_URL: shared.url,
            NODE_ID: `bench-node-${n}`,
            // Every room is meant to span the nodes: no node moves a socket to the room's node.
            CLUSTER_PLACEMENT: 'false',
          },
          { database },
        ),
      );
  } else {
    servers.push(await startServer(env, { database }));
  }
  const server = servers[0] as (typeof servers)[number];
  const prisma = server.app.database.prisma;
  const version = await databaseVersion(prisma);
  const clients = new ClientWorker();
  const rows: FanoutRow[] = [];
  try {
    // Peer p of every room is identity p (an identity may be in several rooms at once).
    const identities = [];
    for (let p = 0; p < maxPeers; p++)
      identities.push(await createIdentity(server.url, `bench-${String(p).padStart(3, '0')}`));
    for (const scenario of scenarios) {
      const tag = `${scenario.name}-${process.pid}`;
      const roomIds = Array.from({ length: scenario.rooms }, (_, r) => `bench-${tag}-${r}`);
      log(
        `[fanout] ${database} (${version}): ${scenario.name}: joining ${scenario.rooms} × ${scenario.peersPerRoom} peers`,
      );
      await clients.call({
        cmd: 'open',
        wsUrls: roomIds.map((roomId) => servers.map((node) => node.wsUrl(roomId))),
        peersPerRoom: scenario.peersPerRoom,
        identities: identities.slice(0, scenario.peersPerRoom),
      });
      const prefix = `fanout-${scenario.name}`;
      log(`[fanout] ${database}: ${scenario.name}, ${scenario.messages} messages`);
      const loadBefore = loadAverage();
      const loopBefore = performance.eventLoopUtilization();
      const measured = await profiled(profileDir, `${database}-${scenario.name}`, () =>
        clients.call<ClientMeasurement>({ cmd: 'run', scenario, prefix }),
      );
      const serverLoopBusy = round(performance.eventLoopUtilization(loopBefore).utilization, 2);
      const loadAfter = loadAverage();
      const rowsStored = await prisma.message.findMany({
        where: { clientId: { startsWith: `${prefix}-` } },
        select: { roomId: true, clientId: true, seq: true },
        orderBy: [{ roomId: 'asc' }, { seq: 'asc' }],
      });
      const byRoom = new Map<string, { index: number[]; seq: number[] }>();
      for (const row of rowsStored) {
        let room = byRoom.get(row.roomId);
        if (!room) byRoom.set(row.roomId, (room = { index: [], seq: [] }));
        room.index.push(Number((row.clientId ?? '').slice(prefix.length + 1)));
        room.seq.push(Number(row.seq));
      }
      const verified = await clients.call<Partial<ScenarioChecks>>({
        cmd: 'verify',
        stored: [...byRoom.values()],
      });
      await clients.call({ cmd: 'close' });
      const partial = {
        ...measured,
        checks: {
          ...measured.checks,
          ...verified,
          ackMismatches: measured.checks.ackMismatches + (verified.ackMismatches ?? 0),
        },
        database,
        nodes,
        databaseVersion: version,
        serverLoopBusy,
        loadAverage: [loadBefore, loadAfter] as [number, number],
        storedInDatabase: rowsStored.length,
      };
      const failures = failuresOf(partial);
      rows.push({ ...partial, ok: failures.length === 0, failures });
      log(
        `[fanout] ${database} ${scenario.name}: ${measured.ackedPerSecond} acked/s, ${measured.deliveredPerSecond} delivered/s` +
          (failures.length
            ? `; FAILED: ${failures.join(', ')}`
            : '; every message delivered once and in order'),
      );
    }
  } finally {
    await clients.terminate();
    for (const node of servers.reverse()) await node.close();
    for (const stop of stops.reverse()) await stop();
  }
  return rows;
}

const scenarioLabel = (row: FanoutRow) =>
  row.rooms === 1
    ? `${row.scenario}: 1 room × ${row.peersPerRoom}`
    : `${row.scenario}: ${row.rooms} rooms × ${row.peersPerRoom}`;

export function fanoutTable(rows: FanoutRow[]): string {
  return markdownTable(
    [
      'database',
      'nodes',
      'scenario (rooms × peers)',
      'senders × in flight',
      'msgs',
      'acked msg/s',
      'delivered msg/s',
      'ack p50 ms',
      'ack p99 ms',
      'delivery p50 ms',
      'delivery p99 ms',
      'msgs per notification',
      'server loop busy',
      'clients loop busy',
      'load avg',
      'delivered once, in order',
    ],
    rows.map((row) => [
      row.database,
      row.nodes,
      scenarioLabel(row),
      `${row.senders} × ${row.inFlightPerSender}`,
      row.messages,
      row.ackedPerSecond,
      row.deliveredPerSecond,
      row.ackP50Ms,
      row.ackP99Ms,
      row.deliveryP50Ms,
      row.deliveryP99Ms,
      row.messagesPerNotification,
      `${Math.round(row.serverLoopBusy * 100)}%`,
      `${Math.round(row.clientLoopBusy * 100)}%`,
      `${row.loadAverage[0]} → ${row.loadAverage[1]}`,
      row.ok ? 'yes' : `FAILED ${row.failures.join(' ')}`,
    ]),
  );
}

export async function runFanout(options: FanoutOptions): Promise<FanoutResult> {
  const log = options.log ?? ((line: string) => console.error(line));
  for (const scenario of options.scenarios) {
    if (scenario.peersPerRoom < 2) throw new Error(`${scenario.name}: at least 2 peers per room`);
    if (scenario.sendersPerRoom < 1 || scenario.sendersPerRoom > scenario.peersPerRoom)
      throw new Error(`${scenario.name}: senders per room must be between 1 and the peers per room`);
  }
  const result: FanoutResult = {
    benchmark: 'chat-fanout',
    startedAt: new Date().toISOString(),
    machine: machineInfo(),
    params: { databases: options.databases, scenarios: options.scenarios, nodes: options.nodes ?? 1 },
    rows: [],
    ok: true,
  };
  for (const database of options.databases)
    result.rows.push(
      ...(await runOne(database, options.scenarios, log, options.profileDir, options.nodes ?? 1)),
    );
  result.ok = result.rows.every((row) => row.ok);
  if (options.out) writeJson(options.out, result);
  return result;
}

export function parseDatabases(value: string): DbKind[] {
  if (value === 'both') return ['embedded', 'postgres'];
  if (value === 'embedded' || value === 'postgres') return [value];
  throw new Error(`--db must be embedded, postgres or both (got ${value})`);
}

function parseScenarios(value: string, messages: string | undefined): Scenario[] {
  return value.split(',').map((name) => {
    const scenario = defaultScenarios[name as ScenarioName] as Scenario | undefined;
    if (!scenario)
      throw new Error(`--scenarios: ${name} is none of ${Object.keys(defaultScenarios).join(', ')}`);
    if (messages === undefined) return scenario;
    const count = Number(messages);
    if (!Number.isInteger(count) || count < 1) throw new Error('--messages must be a positive integer');
    return { ...scenario, messages: count };
  });
}

export async function main(argv: string[] = process.argv.slice(2)): Promise<FanoutResult> {
  const { values } = parseArgs({
    args: argv,
    options: {
      db: { type: 'string', default: 'postgres' },
      scenarios: { type: 'string', default: 'sequential,one-room,many-rooms' },
      messages: { type: 'string' },
      profile: { type: 'string' },
      nodes: { type: 'string', default: '1' },
      out: { type: 'string', default: join(repoRoot, 'bench-results', 'chat-fanout.json') },
    },
  });
  const scenarios = parseScenarios(values.scenarios, values.messages);
  const nodes = Number(values.nodes);
  if (!Number.isInteger(nodes) || nodes < 1 || nodes > 8) throw new Error('--nodes must be 1 to 8');
  const result = await runFanout({
    nodes,
    databases: parseDatabases(values.db),
    scenarios,
    out: values.out,
    ...(values.profile ? { profileDir: values.profile } : {}),
  });
  console.log(`\nChat fan-out: ${scenarios.map((s) => `${s.name} ${s.messages} messages`).join(', ')}`);
  console.log(`Machine: ${formatMachine(result.machine)}\n`);
  console.log(fanoutTable(result.rows));
  for (const row of result.rows)
    console.log(
      `${row.database} ${row.scenario}: ${row.ok ? 'every message delivered once and in order' : 'FAILED'} ` +
        `(${row.messages} messages × ${row.receiversPerMessage} receivers checked against the stored seq order of ${row.rooms} room(s))`,
    );
  console.log(`\nJSON: ${values.out}`);
  if (!result.ok) {
    console.error('\ncorrectness checks FAILED (see the last column)');
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
