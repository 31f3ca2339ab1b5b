// Browser join time: Debian Chromium (fake camera and microphone) opens a room link, types a
// name and clicks Join; the time from that click to the first decoded frame of a remote
// participant's video (inbound-rtp framesDecoded > 0, polled in the page every 10 ms). The
// remote participant is another Chromium page in the room (a real VP8 encoder: synthetic
// frames could not be decoded). Each join is a fresh browser context (no cached identity);
// the page is loaded before the click, as when a user reads the lobby first.
//
//   node --import tsx bench/browser-join.ts [--url URL] [--joins 10]
import { execFileSync } from 'node:child_process';
import { parseArgs } from 'node:util';
import { chromiumPath, joinRoom, launchBrowser, newParticipantPage } from '../tests/helpers/browser.js';
import { startMeetServer } from './load/server-process.js';
import { isMain } from './load/report.js';

export interface BrowserJoinResult {
  chromium: string;
  joins: number;
  /** Click → first decoded remote video frame, ms, in join order. */
  samplesMs: number[];
  medianMs: number;
  minMs: number;
  maxMs: number;
}

export function chromiumVersion(): string {
  try {
    return execFileSync(chromiumPath, ['--version'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
  } catch {
    return 'unknown';
  }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

export async function measureBrowserJoins({
  baseUrl,
  joins = 10,
  log = console.log,
}: {
  baseUrl: string;
  joins?: number;
  log?: (line: string) => void;
}): Promise<BrowserJoinResult> {
  const roomId = `browser-join-${Date.now().toString(36)}`;
  const browser = await launchBrowser();
  try {
    const presenter = await newParticipantPage(browser, baseUrl);
    await joinRoom(presenter.page, roomId, 'Presenter');
    const samplesMs: number[] = [];
    for (let i = 0; i < joins; i++) {
      const { context, page } = await newParticipantPage(browser, baseUrl);
      try {
        await page.goto(`/r/${roomId}`);
        await page.getByLabel('Your name').fill(`Joiner ${i + 1}`);
        // Timestamp the click inside the page (capture phase: before the app's handler runs).
        await page.evaluate(() => {
          const w = window as unknown as { __joinClickAt?: number };
          document.addEventListener('click', () => (w.__joinClickAt ??= performance.now()), {
            capture: true,
          });
        });
        await page.getByTestId('join').click();
        const ms = await page.evaluate(async () => {
          const w = window as unknown as {
            __joinClickAt?: number;
            __meet?: { stats(): Promise<Array<{ video: { framesDecoded: number } | null }>> };
          };
          const deadline = performance.now() + 30_000;
          while (performance.now() < deadline) {
            const stats = w.__meet ? await w.__meet.stats() : [];
            if (stats.some((s) => (s.video?.framesDecoded ?? 0) > 0))
              return performance.now() - (w.__joinClickAt ?? 0);
            await new Promise((resolve) => setTimeout(resolve, 10));
          }
          return NaN;
        });
        if (!Number.isFinite(ms)) throw new Error(`join ${i + 1}: no remote video frame decoded within 30 s`);
        samplesMs.push(ms);
        log(`browser join ${i + 1}/${joins}: ${ms.toFixed(0)} ms`);
      } finally {
        await context.close();
      }
    }
    await presenter.context.close();
    return {
      chromium: chromiumVersion(),
      joins,
      samplesMs,
      medianMs: median(samplesMs),
      minMs: Math.min(...samplesMs),
      maxMs: Math.max(...samplesMs),
    };
  } finally {
    await browser.close();
  }
}

if (isMain(import.meta.url)) {
  const { values } = parseArgs({
    options: { url: { type: 'string' }, joins: { type: 'string', default: '10' } },
  });
  const server = values.url ? undefined : await startMeetServer({ MEDIA_WORKERS: '1' });
  try {
    const result = await measureBrowserJoins({
      baseUrl: values.url ?? (server?.url as string),
      joins: Number(values.joins),
    });
    console.log(
      `browser join (click → first decoded remote frame), ${result.joins} joins: median ${result.medianMs.toFixed(0)} ms (min ${result.minMs.toFixed(0)}, max ${result.maxMs.toFixed(0)})`,
    );
  } finally {
    await server?.close();
  }
}
