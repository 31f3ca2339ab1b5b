// The TypeScript side of the pion media generator (bench/pion/main.go): builds it with
// bench/pion/build.sh (Debian's Go and pion packages, offline), runs it as a child process
// and talks to it over stdin/stdout, one JSON object per line (see main.go for the ops).
import { execFileSync, spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

export interface SenderCounters {
  key: string;
  packets: number;
  /** RTP payload bytes. */
  bytes: number;
  frames: number;
  keyframes: number;
  /** PLI/FIR received from the SFU. */
  plis: number;
}

export interface ConsumerCounters {
  key: string;
  packets: number;
  /** Whole RTP packets (header + payload), after SRTP. */
  bytes: number;
  /** Extended highest − first sequence number + 1. */
  expected: number;
  keyframe: boolean;
  /** Epoch ms of the first packet (0: none yet). */
  firstAt: number;
}

export interface GeneratorStats {
  /** Epoch ms when the counters were read (all at the same moment). */
  at: number;
  goroutines: number;
  senders: SenderCounters[];
  consumers: ConsumerCounters[];
}

const REQUEST_TIMEOUT_MS = 40_000;

interface Pending {
  resolve: (value: unknown) => void;
  reject: (error: Error) => void;
}

/** Builds the generator if needed; returns the binary's path. */
export function buildPionGenerator(): string {
  const script = fileURLToPath(new URL('./build.sh', import.meta.url));
  return execFileSync('bash', [script], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim();
}

export class PionGenerator {
  readonly #child: ChildProcessWithoutNullStreams;
  readonly #pending = new Map<number, Pending>();
  #nextId = 1;
  #exited = false;

  private constructor(child: ChildProcessWithoutNullStreams) {
    this.#child = child;
    createInterface({ input: child.stdout }).on('line', (line) => {
      let message: { id?: number; ok?: boolean; result?: unknown; error?: string };
      try {
        message = JSON.parse(line) as typeof message;
      } catch {
        process.stderr.write(`[pion-gen] ${line}\n`);
        return;
      }
      const pending = message.id !== undefined ? this.#pending.get(message.id) : undefined;
      if (!pending) return;
      this.#pending.delete(message.id as number);
      if (message.ok) pending.resolve(message.result);
      else pending.reject(new Error(`pion generator: ${message.error ?? 'failed'}`));
    });
    child.stderr.on('data', (chunk: Buffer) => process.stderr.write(`[pion-gen] ${String(chunk)}`));
    child.on('exit', (code, signal) => {
      this.#exited = true;
      for (const pending of this.#pending.values())
        pending.reject(new Error(`pion generator exited (${String(code ?? signal)})`));
      this.#pending.clear();
    });
  }

  /** Starts the generator. `vp8PayloadType`: the router's VP8 payload type. */
  static start(binary: string, vp8PayloadType: number, extraArgs: string[] = []): PionGenerator {
    const child = spawn(binary, [`-vp8-pt=${vp8PayloadType}`, ...extraArgs], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    return new PionGenerator(child);
  }

  get pid(): number {
    return this.#child.pid as number;
  }

  request<T = unknown>(op: string, data: Record<string, unknown> = {}): Promise<T> {
    if (this.#exited) return Promise.reject(new Error('pion generator has exited'));
    const id = this.#nextId++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new Error(`pion generator: ${op} timed out after ${REQUEST_TIMEOUT_MS} ms`));
      }, REQUEST_TIMEOUT_MS);
      this.#pending.set(id, {
        resolve: (value) => {
          clearTimeout(timer);
          (resolve as (value: unknown) => void)(value);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      });
      this.#child.stdin.write(`${JSON.stringify({ id, op, ...data })}\n`);
    });
  }

  stats(): Promise<GeneratorStats> {
    return this.request<GeneratorStats>('stats');
  }

  async close(): Promise<void> {
    if (this.#exited) return;
    const exited = new Promise<void>((resolve) => this.#child.once('exit', () => resolve()));
    this.request('close').catch(() => undefined);
    const timer = setTimeout(() => this.#child.kill('SIGKILL'), 3000);
    await exited;
    clearTimeout(timer);
  }
}
