// Helpers for the deployment tests: IP ranges, coturn's config syntax, .env files and
// Compose-style variable interpolation. No test lives here (not a *.test.ts file).
import { readFileSync } from 'node:fs';
import { isIPv4, isIPv6 } from 'node:net';
import { fileURLToPath } from 'node:url';

export const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
export const readRepoFile = (path: string): string =>
  readFileSync(new URL(path, `file://${repoRoot}`), 'utf8');

// --- IP addresses and ranges -------------------------------------------------------------

export type Family = 4 | 6;
export interface IpRange {
  family: Family;
  start: bigint;
  end: bigint;
}

export function parseIp(text: string): { family: Family; value: bigint } {
  if (isIPv4(text)) {
    const value = text.split('.').reduce((acc, octet) => (acc << 8n) | BigInt(Number(octet)), 0n);
    return { family: 4, value };
  }
  if (!isIPv6(text)) throw new Error(`not an IP address: ${text}`);
  let groups: string[];
  let tail = text;
  const embedded: number[] = [];
  // A trailing dotted IPv4 part (::ffff:1.2.3.4) is two 16-bit groups.
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(tail);
  if (v4) {
    const n = parseIp(v4[1]!).value;
    embedded.push(Number(n >> 16n), Number(n & 0xffffn));
    tail = tail.slice(0, -v4[1]!.length);
    if (tail.endsWith(':') && !tail.endsWith('::')) tail = tail.slice(0, -1);
  }
  const [head = '', rest] = tail.split('::') as [string, string | undefined];
  const headGroups = head ? head.split(':') : [];
  const restGroups = rest ? rest.split(':') : [];
  const explicit = headGroups.length + restGroups.length + embedded.length;
  if (rest !== undefined) {
    groups = [...headGroups, ...Array<string>(8 - explicit).fill('0'), ...restGroups];
  } else {
    groups = headGroups;
  }
  const words = [...groups.map((g) => parseInt(g, 16)), ...embedded];
  if (words.length !== 8) throw new Error(`cannot expand IPv6 address ${text}`);
  return { family: 6, value: words.reduce((acc, w) => (acc << 16n) | BigInt(w), 0n) };
}

export function parseCidr(cidr: string): IpRange {
  const [address, bitsText] = cidr.split('/') as [string, string | undefined];
  const { family, value } = parseIp(address);
  const width = family === 4 ? 32n : 128n;
  const bits = BigInt(bitsText ?? width);
  const hostMask = (1n << (width - bits)) - 1n;
  if ((value & hostMask) !== 0n) throw new Error(`${cidr}: host bits set`);
  return { family, start: value, end: value | hostMask };
}

/** coturn's `ip` or `ip-ip` syntax (denied-peer-ip, allowed-peer-ip). */
export function parseCoturnRange(text: string): IpRange {
  const [first, second] = text.split('-') as [string, string | undefined];
  const a = parseIp(first.trim());
  const b = second === undefined ? a : parseIp(second.trim());
  if (a.family !== b.family) throw new Error(`${text}: mixed address families`);
  if (a.value > b.value) throw new Error(`${text}: range start after its end`);
  return { family: a.family, start: a.value, end: b.value };
}

export const rangeInside = (inner: IpRange, outer: IpRange): boolean =>
  inner.family === outer.family && inner.start >= outer.start && inner.end <= outer.end;

// --- coturn configuration ----------------------------------------------------------------

export interface ConfOption {
  name: string;
  value: string | undefined;
  line: number;
}

/** Active options of a turnserver.conf: `name`, `name=value` (comments and blanks skipped). */
export function parseTurnConfig(text: string): ConfOption[] {
  const options: ConfOption[] = [];
  text.split('\n').forEach((raw, index) => {
    const line = raw.trim();
    if (!line || line.startsWith('#')) return;
    const match = /^(?:--)?([A-Za-z0-9_-]+)\s*(?:=\s*(.*?)|\s+(.*?))?\s*$/.exec(line);
    if (!match) throw new Error(`turnserver.conf line ${index + 1}: cannot parse "${line}"`);
    const value = match[2] ?? match[3];
    options.push({
      name: match[1]!,
      value: value === undefined ? undefined : unquote(value),
      line: index + 1,
    });
  });
  return options;
}

const unquote = (value: string): string =>
  value.length >= 2 && value.startsWith('"') && value.endsWith('"') ? value.slice(1, -1) : value;

// --- .env files ---------------------------------------------------------------------------

export interface DotEnv {
  /** Values as written (what a container would get from env_file if nothing expands them). */
  raw: Record<string, string>;
  /** Values after Compose's interpolation of .env (${NAME} of variables above). */
  expanded: Record<string, string>;
}

export function parseDotEnv(text: string, overrides: Record<string, string> = {}): DotEnv {
  const raw: Record<string, string> = {};
  const expanded: Record<string, string> = {};
  for (const rawLine of text.split('\n')) {
    const line = rawLine.trim();
    if (!line || line.startsWith('#')) continue;
    const match = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
    if (!match) throw new Error(`.env line cannot be parsed: ${line}`);
    const name = match[1]!;
    let value = match[2]!;
    let literal = false;
    if (/^'.*'$/.test(value)) {
      value = value.slice(1, -1);
      literal = true;
    } else if (/^".*"$/.test(value)) {
      value = value.slice(1, -1);
    } else {
      value = value.replace(/\s+#.*$/, '');
    }
    raw[name] = value;
    expanded[name] =
      name in overrides ? overrides[name]! : literal ? value : interpolate(value, expanded).value;
  }
  return { raw, expanded };
}

// --- Compose interpolation ----------------------------------------------------------------

export class InterpolationError extends Error {}

/**
 * Compose's interpolation: $$, $NAME, ${NAME}, ${NAME:-default}, ${NAME-default},
 * ${NAME:?error}, ${NAME?error}, ${NAME:+alt}, ${NAME+alt}, nested. Returns the result and
 * every variable name referenced (also in branches not taken).
 */
export function interpolate(
  text: string,
  env: Record<string, string | undefined>,
): { value: string; names: Set<string> } {
  const names = new Set<string>();
  const value = expand(text, env, names);
  return { value, names };
}

function expand(text: string, env: Record<string, string | undefined>, names: Set<string>): string {
  let out = '';
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (c !== '$') {
      out += c;
      i++;
      continue;
    }
    const next = text[i + 1];
    if (next === '$') {
      out += '$';
      i += 2;
      continue;
    }
    if (next === '{') {
      const close = matchingBrace(text, i + 1);
      out += substitute(text.slice(i + 2, close), env, names);
      i = close + 1;
      continue;
    }
    const bare = /^[A-Za-z_][A-Za-z0-9_]*/.exec(text.slice(i + 1));
    if (bare) {
      names.add(bare[0]);
      out += env[bare[0]] ?? '';
      i += 1 + bare[0].length;
      continue;
    }
    out += c;
    i++;
  }
  return out;
}

function matchingBrace(text: string, open: number): number {
  let depth = 0;
  for (let i = open; i < text.length; i++) {
    if (text[i] === '$' && text[i + 1] === '$') {
      i++;
      continue;
    }
    if (text[i] === '{') depth++;
    else if (text[i] === '}' && --depth === 0) return i;
  }
  throw new InterpolationError(`unclosed \${ in "${text}"`);
}

function substitute(inner: string, env: Record<string, string | undefined>, names: Set<string>): string {
  const match = /^([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])([\s\S]*))?$/.exec(inner);
  if (!match) throw new InterpolationError(`invalid interpolation \${${inner}}`);
  const [, name, op, arg = ''] = match as unknown as [string, string, string | undefined, string | undefined];
  names.add(name);
  const value = env[name];
  const set = value !== undefined;
  const nonEmpty = set && value !== '';
  let argValue: string | undefined;
  const expandArg = () => (argValue ??= expand(arg ?? '', env, names));
  switch (op) {
    case undefined:
      return value ?? '';
    case ':-':
      return nonEmpty ? value! : expandArg();
    case '-':
      return set ? value! : expandArg();
    case ':?':
      if (!nonEmpty) throw new InterpolationError(`required variable ${name} is missing a value: ${arg}`);
      return value!;
    case '?':
      if (!set) throw new InterpolationError(`required variable ${name} is missing a value: ${arg}`);
      return value!;
    case ':+':
      return nonEmpty ? expandArg() : '';
    case '+':
      return set ? expandArg() : '';
    default:
      throw new InterpolationError(`unsupported operator ${op}`);
  }
}

/** Every variable name a string refers to (nested ones and unused branches included). */
export function variableNames(text: string): Set<string> {
  const names = new Set<string>();
  const pattern = /\$(\$|\{([A-Za-z_][A-Za-z0-9_]*)|([A-Za-z_][A-Za-z0-9_]*))/g;
  for (const match of text.matchAll(pattern)) {
    const name = match[2] ?? match[3];
    if (name) names.add(name);
  }
  return names;
}

/** Interpolates every string in a parsed YAML document (keys are not interpolated). */
export function interpolateDocument(
  doc: unknown,
  env: Record<string, string | undefined>,
  names = new Set<string>(),
): unknown {
  if (typeof doc === 'string') {
    const result = interpolate(doc, env);
    for (const n of result.names) names.add(n);
    return result.value;
  }
  if (Array.isArray(doc)) return doc.map((item) => interpolateDocument(item, env, names));
  if (doc && typeof doc === 'object') {
    return Object.fromEntries(
      Object.entries(doc).map(([key, value]) => [key, interpolateDocument(value, env, names)]),
    );
  }
  return doc;
}
