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
// Link conditions (tc tbf/htb rate limits, iptables `statistic` loss) belong here too, as
// methods applying to `hostInterface` (toward the namespace) and `nsInterface` (from it).
import { execFile, execFileSync } from 'node:child_process';
import { randomInt } from 'node:crypto';
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
  /** Deletes the namespace (and with it the veth pair). Idempotent. */
  destroy(): Promise<void>;
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
    async destroy() {
      if (!live.has(name)) return;
      await ip(['netns', 'delete', name]).catch(() => undefined);
      live.delete(name);
    },
  };
}
