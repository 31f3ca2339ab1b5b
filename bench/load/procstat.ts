// Process CPU and memory from /proc (Linux), as `top` sees them: utime + stime of
// /proc/<pid>/stat in clock ticks, VmRSS / VmHWM of /proc/<pid>/status. Also the kernel's
// UDP counters (/proc/net/snmp), whose RcvbufErrors count datagrams dropped because a
// receiving socket's buffer was full: loss caused by a receiver too slow to read (here
// usually the load generator), not by the network or the SFU's forwarding.
import { readFileSync } from 'node:fs';

/** Clock ticks per second (USER_HZ): 100 on every Linux architecture Node supports. */
const TICKS_PER_SECOND = 100;

export interface ProcSample {
  pid: number;
  /** performance.now() of the sample. */
  at: number;
  /** utime + stime, seconds. */
  cpuSeconds: number;
  rssKiB: number;
  peakRssKiB: number;
}

/** A process's /proc/<pid>/stat: its command name, parent pid and CPU time (utime + stime, s). */
export function readStat(pid: number): { name: string; parent: number; cpuSeconds: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the parenthesized command name (which may contain spaces).
  const close = stat.lastIndexOf(')');
  const fields = stat.slice(close + 2).split(' ');
  return {
    name: stat.slice(stat.indexOf('(') + 1, close),
    parent: Number(fields[1]),
    cpuSeconds: (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND,
  };
}

export function sampleProcess(pid: number): ProcSample | undefined {
  try {
    const { cpuSeconds } = readStat(pid);
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kib = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0);
    return {
      pid,
      at: performance.now(),
      cpuSeconds,
      rssKiB: kib('VmRSS'),
      peakRssKiB: kib('VmHWM'),
    };
  } catch {
    return undefined;
  }
}

export interface UdpCounters {
  inDatagrams: number;
  rcvbufErrors: number;
  sndbufErrors: number;
  inErrors: number;
}

export function udpCounters(): UdpCounters {
  try {
    const lines = readFileSync('/proc/net/snmp', 'utf8')
      .split('\n')
      .filter((line) => line.startsWith('Udp:'));
    const names = (lines[0] ?? '').split(/\s+/).slice(1);
    const values = (lines[1] ?? '').split(/\s+/).slice(1).map(Number);
    const get = (name: string) => values[names.indexOf(name)] ?? 0;
    return {
      inDatagrams: get('InDatagrams'),
      rcvbufErrors: get('RcvbufErrors'),
      sndbufErrors: get('SndbufErrors'),
      inErrors: get('InErrors'),
    };
  } catch {
    return { inDatagrams: 0, rcvbufErrors: 0, sndbufErrors: 0, inErrors: 0 };
  }
}

/** CPU and memory of a set of processes over a window (first and last sample). */
export interface ProcWindow {
  pids: number[];
  seconds: number;
  /** CPU seconds per second over the window (1.0 = one core busy). */
  cpu: number;
  /** The same per process (pid → cores), e.g. each mediasoup worker of one server. */
  cpuByPid: Record<number, number>;
  rssMiB: number;
  peakRssMiB: number;
}

export function procWindow(start: ProcSample[], end: ProcSample[]): ProcWindow {
  let cpu = 0;
  let seconds = 0;
  const byPid: Record<number, number> = {};
  for (const e of end) {
    const s = start.find((x) => x.pid === e.pid);
    if (!s) continue;
    seconds = Math.max(seconds, (e.at - s.at) / 1000);
    cpu += e.cpuSeconds - s.cpuSeconds;
    byPid[e.pid] = e.cpuSeconds - s.cpuSeconds;
  }
  const perSecond = (value: number) => (seconds > 0 ? value / seconds : 0);
  return {
    pids: end.map((e) => e.pid),
    seconds,
    cpu: perSecond(cpu),
    cpuByPid: Object.fromEntries(Object.entries(byPid).map(([pid, value]) => [pid, perSecond(value)])),
    rssMiB: end.reduce((sum, e) => sum + e.rssKiB, 0) / 1024,
    peakRssMiB: end.reduce((sum, e) => sum + e.peakRssKiB, 0) / 1024,
  };
}

/** Busy CPU time of the whole machine (all processes), seconds: /proc/stat's first line. */
export function machineBusySeconds(): number {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
    const [, ...fields] = line.trim().split(/\s+/);
    const values = fields.map(Number);
    const total = values.slice(0, 8).reduce((a, b) => a + b, 0);
    const idle = (values[3] ?? 0) + (values[4] ?? 0);
    return (total - idle) / TICKS_PER_SECOND;
  } catch {
    return NaN;
  }
}
