// Scrapes /metrics and parses Prometheus' text exposition format (0.0.4) strictly enough
// that a malformed answer fails the test: every sample line must parse, belong to a family
// announced by # HELP and # TYPE, and carry a number.
import assert from 'node:assert/strict';

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Family {
  name: string;
  help: string;
  type: 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped';
}

export interface Metrics {
  families: Map<string, Family>;
  samples: Sample[];
}

const sampleLine = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)(?: -?\d+)?$/;
const labelPair = /\s*([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*(,|$)/y;

function parseLabels(text: string, line: string): Record<string, string> {
  const labels: Record<string, string> = {};
  labelPair.lastIndex = 0;
  while (labelPair.lastIndex < text.length) {
    const match = labelPair.exec(text);
    assert.ok(match, `malformed labels in: ${line}`);
    const [, name, raw] = match as unknown as [string, string, string];
    labels[name] = raw.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
  }
  return labels;
}

function parseValue(text: string, line: string): number {
  // As Prometheus reads them (Go's ParseFloat): Inf and NaN in any case; prom-client writes `Nan`.
  if (/^\+?inf(inity)?$/i.test(text)) return Infinity;
  if (/^-inf(inity)?$/i.test(text)) return -Infinity;
  if (/^nan$/i.test(text)) return NaN;
  const value = Number(text);
  assert.ok(text !== '' && !Number.isNaN(value), `not a number in: ${line}`);
  return value;
}

/** The family a sample belongs to (histogram series end in _bucket, _sum, _count). */
function familyOf(name: string, families: Map<string, Family>): Family | undefined {
  if (families.has(name)) return families.get(name);
  const base = name.replace(/_(bucket|sum|count)$/, '');
  const family = families.get(base);
  return family && (family.type === 'histogram' || family.type === 'summary') ? family : undefined;
}

export function parseMetrics(text: string): Metrics {
  const families = new Map<string, Family>();
  const samples: Sample[] = [];
  const helps = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    const help = /^# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$/.exec(line);
    if (help) {
      helps.set(help[1] as string, help[2] as string);
      continue;
    }
    const type = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$/.exec(line);
    if (type) {
      const name = type[1] as string;
      assert.ok(helps.has(name), `# TYPE ${name} without # HELP`);
      assert.ok(!families.has(name), `family ${name} announced twice`);
      families.set(name, { name, help: helps.get(name) as string, type: type[2] as Family['type'] });
      continue;
    }
    assert.ok(!line.startsWith('#'), `unexpected comment: ${line}`);
    const match = sampleLine.exec(line);
    assert.ok(match, `malformed sample: ${line}`);
    const name = match[1] as string;
    assert.ok(familyOf(name, families), `sample of an unannounced family: ${line}`);
    samples.push({
      name,
      labels: parseLabels(match[2] ?? '', line),
      value: parseValue(match[3] as string, line),
    });
  }
  return { families, samples };
}

/** Fetches and parses /metrics (asserting 200 and the text format's content type). */
export async function scrape(url: string, token?: string): Promise<Metrics> {
  const response = await fetch(url, token ? { headers: { authorization: `Bearer ${token}` } } : {});
  const body = await response.text();
  assert.equal(response.status, 200, body.slice(0, 500));
  assert.match(response.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  return parseMetrics(body);
}

/** Samples of `name` whose labels include `labels`. */
export function samplesOf(metrics: Metrics, name: string, labels: Record<string, string> = {}): Sample[] {
  return metrics.samples.filter(
    (s) => s.name === name && Object.entries(labels).every(([key, value]) => s.labels[key] === value),
  );
}

/** The value of the one sample of `name` with exactly these labels (undefined when absent). */
export function valueOf(
  metrics: Metrics,
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  const found = metrics.samples.filter(
    (s) =>
      s.name === name &&
      Object.keys(s.labels).length === Object.keys(labels).length &&
      Object.entries(labels).every(([key, value]) => s.labels[key] === value),
  );
  assert.ok(found.length <= 1, `several samples of ${name} ${JSON.stringify(labels)}`);
  return found[0]?.value;
}
