// A network namespace joined to this machine by a veth pair, for browser tests that need a
// real (non-loopback) network path: Firefox does not pair loopback ICE candidates, and
// constrained links (bandwidth, loss) need an interface to shape.
//
//   host namespace                         namespace <name>
//   <hostInterface> <hostAddress>/30  <->  <nsInterface> <nsAddress>/30, lo up
//
// The two addresses are a /30 of the benchmarking range 198.18.0.0/15 (RFC 2544), picked
// at random per namespace and checked to be unused on this machine; they exist only on
// this pair, so test traffic sent to them never leaves the machine. The namespace has no
// default route: from inside, only the host side of the pair is reachable.
//
// A server under test listens on (and announces) `hostAddress`; a browser runs inside
// through `wrap(argv)` (`ip netns exec <name> ...`), e.g. as Playwright's executablePath.
//
// Needs root (CI runs as root) and iproute2: `createNetns` fails with a message saying so
// instead of skipping. Every namespace is deleted by `destroy()`, at process exit, and, if
// a test run was killed, by the next run (the name carries the creating process's pid).
//
// Link conditions (no netem on these kernels: no delay or jitter), set per direction:
//
// - `limitRate({ toNamespace, fromNamespace })` (kbit/s): a tc `tbf` qdisc on the egress of
//   `hostInterface` (the namespace's downlink) and of `nsInterface` (its uplink);
// - `dropRandom({ toNamespace, fromNamespace }, { protocol })` (probability 0..1): iptables
//   `statistic` DROP rules inside the namespace (INPUT from / OUTPUT to `nsInterface`), in
//   chains of their own, so that nothing outside the pair is affected; with `protocol`,
//   only that protocol's packets (probability 1 and 'udp': UDP cut, TCP left alone); with
//   `spareTcpPort`, never the packets of that TCP port of the host side (probability 1 and
//   the server's HTTP port: every media path cut, the signaling websocket left alone);
// - `clearConditions()` removes both; `conditionStats()` reads their counters (for a test
//   to check that a condition really applied).
//
// They all live on the pair or inside the namespace: deleting the namespace (which deletes
// the veth pair, both ends) removes them. tc needs iproute2, the drops iptables (Debian
// packages of those names; scripts/setup-system.sh --test installs them).
import { execFile, execFileSync } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const prefix = 'meet-test-';

export interface Netns {
  /** Namespace name (`ip netns` / `ip -n`). */
  readonly name: string;
  /** Host side of the veth pair, in this machine's namespace. */
  readonly hostInterface: string;
  readonly hostAddress: string;
  /** Namespace side of the veth pair. */
  readonly nsInterface: string;
  readonly nsAddress: string;
  /** The argv that runs `argv` inside the namespace. */
  wrap(argv: string[]): string[];
  /** Runs a command inside the namespace; rejects with its stderr when it fails. */
  exec(argv: string[]): Promise<string>;
  /**
   * Limits the rate (kbit/s) toward the namespace (its downlink: tbf on `hostInterface`)
   * and/or from it (its uplink: tbf on `nsInterface`). A direction not given is left as
   * it is; `null` removes its limit.
   */
  limitRate(rates: RateLimits, options?: RateLimitOptions): Promise<void>;
  /**
   * Drops packets at random with probability `p` (0..1) toward the namespace (received by
   * it) and/or from it (sent by it). A direction not given is left as it is; `null` or 0
   * removes its drops. With `options`, only some packets are dropped (see DropOptions; a
   * later call replaces the rules of the directions it gives, options included).
   */
  dropRandom(probabilities: DropProbabilities, options?: DropOptions): Promise<void>;
  /** Removes every rate limit and drop rule of this pair. */
  clearConditions(): Promise<void>;
  /** Counters of the conditions in place, per direction. */
  conditionStats(): Promise<{ toNamespace: LinkCounters; fromNamespace: LinkCounters }>;
  /** Deletes the namespace (and with it the veth pair and its conditions). Idempotent. */
  destroy(): Promise<void>;
}

/** kbit/s per direction; `null` removes the limit of that direction. */
export interface RateLimits {
  /** The namespace's downlink (what its browser receives). */
  toNamespace?: number | null;
  /** The namespace's uplink (what its browser sends). */
  fromNamespace?: number | null;
}

export interface RateLimitOptions {
  /**
   * Token bucket size in bytes: how much may pass at line rate after an idle moment.
   * Default: 40 ms worth of the rate, at least 5,000 bytes (a few full packets; for
   * ~600 kbit/s video that is 5,000 bytes, so a key frame is paced, not let through).
   */
  burstBytes?: number;
  /**
   * The longest a packet may wait in the queue before it is dropped (tbf `latency`):
   * the bottleneck's buffer. Default 250 ms.
   */
  latencyMs?: number;
}

/** Drop probability (0..1) per direction; `null` or 0 removes the drops of that direction. */
export interface DropProbabilities {
  toNamespace?: number | null;
  fromNamespace?: number | null;
}

export interface DropOptions {
  /** Drop only packets of this IP protocol (default: every packet). */
  protocol?: 'udp' | 'tcp';
  /**
   * Never drop the packets to or from this TCP port of the host side (e.g. the server's
   * HTTP port, to keep its signaling websocket up while media is cut).
   */
  spareTcpPort?: number;
}

/** One direction's counters since its condition was set. */
export interface LinkCounters {
  /** The rate limit in place (kbit/s), or null. */
  rateKbit: number | null;
  /** The shaping qdisc's counters (zeros without a rate limit). */
  sentBytes: number;
  sentPackets: number;
  /** Packets the qdisc dropped (queue longer than `latencyMs`). */
  qdiscDropped: number;
  /** Times a packet had to wait for tokens: > 0 once the limit really shaped traffic. */
  overlimits: number;
  /** Packets left waiting in the queue. */
  backlogPackets: number;
  /** The random-drop probability in place (0 without). */
  dropProbability: number;
  /** The protocol the drops are limited to (null: every packet). */
  dropProtocol: 'udp' | 'tcp' | null;
  /** Packets the random-drop rule dropped. */
  randomDropped: number;
}

const live = new Set<string>();
let exitHookInstalled = false;

async function ip(args: string[]): Promise<string> {
  try {
    return (await run('ip', args, { encoding: 'utf8' })).stdout;
  } catch (error) {
    const e = error as NodeJS.ErrnoException & { stderr?: string };
    const why =
      e.code === 'ENOENT' ? 'the `ip` command is missing (Debian package iproute2)' : e.stderr?.trim();
    throw new Error(`ip ${args.join(' ')} failed: ${why || e.message}`);
  }
}

/** Where `command` is on PATH (plus the sbin directories), or undefined. */
function findCommand(command: string): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/sbin'];
  for (const dir of dirs) {
    if (!dir) continue;
    try {
      accessSync(join(dir, command), constants.X_OK);
      return join(dir, command);
    } catch {
      // Not here.
    }
  }
  return undefined;
}

/** Runs `argv` (in namespace `ns` when given); the error names the Debian package to install. */
async function tool(debianPackage: string, argv: string[], ns?: string): Promise<string> {
  const [command, ...args] = argv as [string, ...string[]];
  const path = findCommand(command);
  if (!path) {
    throw new Error(
      `the \`${command}\` command is missing (Debian package ${debianPackage}; ` +
        'scripts/setup-system.sh --test installs it)',
    );
  }
  const full = ns ? ['ip', 'netns', 'exec', ns, path, ...args] : [path, ...args];
  try {
    return (await run(full[0] as string, full.slice(1), { encoding: 'utf8' })).stdout;
  } catch (error) {
    const e = error as Error & { stderr?: string };
    const where = ns ? ` (in namespace ${ns})` : '';
    throw new Error(`${argv.join(' ')}${where} failed: ${e.stderr?.trim() || e.message}`);
  }
}

function checkRate(what: string, kbit: number): void {
  if (!Number.isFinite(kbit) || kbit <= 0)
    throw new Error(`${what}: a rate must be > 0 kbit/s (got ${kbit})`);
}

function checkProbability(what: string, p: number): void {
  if (!Number.isFinite(p) || p < 0 || p > 1) throw new Error(`${what}: a probability is 0..1 (got ${p})`);
}

interface QdiscJson {
  kind?: string;
  options?: { rate?: number };
  root?: boolean;
  bytes?: number;
  packets?: number;
  drops?: number;
  overlimits?: number;
  qlen?: number;
}

function deleteNow(name: string): void {
  try {
    execFileSync('ip', ['netns', 'delete', name], { stdio: 'ignore' });
  } catch {
    // Already gone.
  }
  live.delete(name);
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Namespaces left by test runs that were killed before they could clean up. */
async function deleteStale(): Promise<void> {
  const list = await ip(['netns', 'list']);
  for (const line of list.split('\n')) {
    const name = line.split(' ')[0] ?? '';
    const pid = Number(/^meet-test-(\d+)-/.exec(name)?.[1]);
    if (pid && pid !== process.pid && !pidAlive(pid)) deleteNow(name);
  }
}

/** A /30 of 198.18.0.0/15 that no interface here uses: [host side, namespace side]. */
async function freeSubnet(): Promise<[string, string]> {
  const used = await ip(['-4', '-o', 'addr', 'show']);
  for (let attempt = 0; attempt < 50; attempt++) {
    const block = randomInt(0, 1 << 15); // 2^17 addresses, 4 per /30
    const network = `198.${18 + (block >> 14)}.${(block >> 6) & 255}`;
    const last = (block & 63) * 4;
    // Conservative: no address of this /24 may be in use here.
    if (!used.includes(` ${network}.`)) return [`${network}.${last + 1}`, `${network}.${last + 2}`];
  }
  throw new Error('no free /30 in 198.18.0.0/15 for a test network namespace');
}

export interface NetnsOptions {
  /**
   * The pair's addresses, [host side, namespace side] of one /30, instead of a free /30 of
   * 198.18.0.0/15: for a test that needs the namespace to look like the public internet
   * (they still exist only on this pair). They must not be in use on this machine.
   */
  addresses?: [string, string];
}

/** Creates a namespace with a veth pair to this machine (see the top of this file). */
export async function createNetns(options: NetnsOptions = {}): Promise<Netns> {
  if (process.getuid?.() !== 0) {
    throw new Error(
      'this test needs a network namespace, which needs root (CI runs as root): run it as root',
    );
  }
  await deleteStale();
  const id = randomInt(0, 36 ** 5).toString(36);
  const name = `${prefix}${process.pid}-${id}`;
  // Interface names: at most 15 characters.
  const hostInterface = `mh${id}`;
  const nsInterface = `mn${id}`;
  const [hostAddress, nsAddress] = options.addresses ?? (await freeSubnet());
  if (options.addresses && (await ip(['-4', '-o', 'addr', 'show'])).includes(` ${hostAddress}/`))
    throw new Error(`${hostAddress} is already in use on this machine`);
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.once('exit', () => {
      for (const left of [...live]) deleteNow(left);
    });
  }
  await ip(['netns', 'add', name]);
  live.add(name);
  try {
    await ip(['link', 'add', hostInterface, 'type', 'veth', 'peer', 'name', nsInterface, 'netns', name]);
    await ip(['addr', 'add', `${hostAddress}/30`, 'dev', hostInterface]);
    await ip(['link', 'set', hostInterface, 'up']);
    await ip(['-n', name, 'addr', 'add', `${nsAddress}/30`, 'dev', nsInterface]);
    await ip(['-n', name, 'link', 'set', nsInterface, 'up']);
    await ip(['-n', name, 'link', 'set', 'lo', 'up']);
  } catch (error) {
    deleteNow(name);
    throw error;
  }
  const wrap = (argv: string[]) => ['ip', 'netns', 'exec', name, ...argv];

  // Conditions: per direction, the device whose egress carries it and where it lives.
  const sides = {
    toNamespace: { dev: hostInterface, ns: undefined as string | undefined, chain: 'MEET-TO-NS' },
    fromNamespace: { dev: nsInterface, ns: name as string | undefined, chain: 'MEET-FROM-NS' },
  };
  type Direction = keyof typeof sides;
  const directions = Object.keys(sides) as Direction[];
  const drops: Record<Direction, { p: number; protocol: 'udp' | 'tcp' | null }> = {
    toNamespace: { p: 0, protocol: null },
    fromNamespace: { p: 0, protocol: null },
  };
  let chainsReady = false;

  const removeRate = async (direction: Direction) => {
    const { dev, ns } = sides[direction];
    const qdiscs = JSON.parse(
      (await tool('iproute2', ['tc', '-j', 'qdisc', 'show', 'dev', dev], ns)) || '[]',
    ) as QdiscJson[];
    if (qdiscs.some((q) => q.root && q.kind === 'tbf'))
      await tool('iproute2', ['tc', 'qdisc', 'del', 'dev', dev, 'root'], ns);
  };
  const setRate = async (direction: Direction, kbit: number, options: RateLimitOptions) => {
    checkRate(direction, kbit);
    const { dev, ns } = sides[direction];
    const burst = Math.round(options.burstBytes ?? Math.max(5000, (kbit * 1000) / 8 / 25));
    const latency = options.latencyMs ?? 250;
    await tool(
      'iproute2',
      [
        'tc',
        'qdisc',
        'replace',
        'dev',
        dev,
        'root',
        'tbf',
        'rate',
        `${kbit}kbit`,
        'burst',
        `${burst}`,
      ].concat(['latency', `${latency}ms`]),
      ns,
    );
  };

  // The drop rules live inside the namespace (its own tables: nothing outside is touched),
  // in two chains of their own: INPUT from nsInterface (toward the namespace), OUTPUT to it.
  const iptables = (args: string[]) => tool('iptables', ['iptables', '-w', '5', ...args], name);
  const ensureChains = async () => {
    if (chainsReady) return;
    await iptables(['-N', sides.toNamespace.chain]);
    await iptables(['-N', sides.fromNamespace.chain]);
    await iptables(['-A', 'INPUT', '-i', nsInterface, '-j', sides.toNamespace.chain]);
    await iptables(['-A', 'OUTPUT', '-o', nsInterface, '-j', sides.fromNamespace.chain]);
    chainsReady = true;
  };
  const setDrop = async (direction: Direction, p: number, { protocol, spareTcpPort }: DropOptions = {}) => {
    checkProbability(direction, p);
    if (!chainsReady && p === 0) return;
    await ensureChains();
    const { chain } = sides[direction];
    await iptables(['-F', chain]);
    if (p > 0 && spareTcpPort !== undefined) {
      // The host side's port: the source of what comes in, the destination of what goes out.
      const port = direction === 'toNamespace' ? '--sport' : '--dport';
      await iptables(['-A', chain, '-p', 'tcp', port, `${spareTcpPort}`, '-j', 'RETURN']);
    }
    if (p > 0) {
      await iptables(
        ['-A', chain]
          .concat(protocol ? ['-p', protocol] : [])
          // Probability 1: every packet (no statistic match needed).
          .concat(p < 1 ? ['-m', 'statistic', '--mode', 'random', '--probability', `${p}`] : [])
          .concat(['-j', 'DROP']),
      );
    }
    drops[direction] = { p, protocol: p > 0 ? (protocol ?? null) : null };
  };
  const randomDropped = async (direction: Direction): Promise<number> => {
    if (!chainsReady) return 0;
    // -L -v -x: exact counters; the first column of each rule line is its packet count.
    const listing = await iptables(['-L', sides[direction].chain, '-v', '-x', '-n']);
    return listing
      .split('\n')
      .slice(2)
      .filter((line) => /\bDROP\b/.test(line))
      .reduce((sum, line) => sum + Number(line.trim().split(/\s+/)[0] ?? 0), 0);
  };

  return {
    name,
    hostInterface,
    hostAddress,
    nsInterface,
    nsAddress,
    wrap,
    async exec(argv) {
      const [command, ...args] = wrap(argv) as [string, ...string[]];
      try {
        return (await run(command, args, { encoding: 'utf8' })).stdout;
      } catch (error) {
        const e = error as Error & { stderr?: string };
        throw new Error(`in namespace ${name}: ${argv.join(' ')} failed: ${e.stderr?.trim() || e.message}`);
      }
    },
    async limitRate(limits, options = {}) {
      for (const direction of directions) {
        const kbit = limits[direction];
        if (kbit === undefined) continue;
        if (kbit === null) await removeRate(direction);
        else await setRate(direction, kbit, options);
      }
    },
    async dropRandom(probabilities, options = {}) {
      for (const direction of directions) {
        const p = probabilities[direction];
        if (p === undefined) continue;
        await setDrop(direction, p ?? 0, options);
      }
    },
    async clearConditions() {
      for (const direction of directions) {
        await removeRate(direction);
        await setDrop(direction, 0);
      }
    },
    async conditionStats() {
      const read = async (direction: Direction): Promise<LinkCounters> => {
        const { dev, ns } = sides[direction];
        const qdiscs = JSON.parse(
          (await tool('iproute2', ['tc', '-s', '-j', 'qdisc', 'show', 'dev', dev], ns)) || '[]',
        ) as QdiscJson[];
        const tbf = qdiscs.find((q) => q.root && q.kind === 'tbf');
        return {
          // tc reports the rate in bytes/s.
          rateKbit: tbf?.options?.rate ? Math.round((tbf.options.rate * 8) / 1000) : null,
          sentBytes: tbf?.bytes ?? 0,
          sentPackets: tbf?.packets ?? 0,
          qdiscDropped: tbf?.drops ?? 0,
          overlimits: tbf?.overlimits ?? 0,
          backlogPackets: tbf?.qlen ?? 0,
          dropProbability: drops[direction].p,
          dropProtocol: drops[direction].protocol,
          randomDropped: await randomDropped(direction),
        };
      };
      return { toNamespace: await read('toNamespace'), fromNamespace: await read('fromNamespace') };
    },
    async destroy() {
      if (!live.has(name)) return;
      await ip(['netns', 'delete', name]).catch(() => undefined);
      live.delete(name);
    },
  };
}
