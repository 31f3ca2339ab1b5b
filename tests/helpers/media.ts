// The check that media really flows on a participant page: between two samples of its
// receive statistics, video frames decoded grow (with a real width) and audio packets grow,
// for every named remote participant. Fails if media stops.
import type { Page } from 'playwright-core';
import { statsOf, type StatsSample } from './browser.js';
import { waitFor } from './wait.js';

export async function assertMediaFlows(
  page: Page,
  names: string[],
  label: string,
  { timeoutMs = 45_000, intervalMs = 500 }: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<void> {
  const byName = (samples: StatsSample[]) => new Map(samples.map((s) => [s.displayName, s]));
  let first = byName(await statsOf(page));
  await waitFor(
    `${label}: media from ${names.join(', ')}`,
    async () => {
      const now = byName(await statsOf(page));
      const missing = names.filter((name) => {
        const a = first.get(name);
        const b = now.get(name);
        return !(
          a?.video &&
          b?.video &&
          b.video.framesDecoded > a.video.framesDecoded &&
          b.video.frameWidth > 0 &&
          a.audio &&
          b.audio &&
          b.audio.packetsReceived > a.audio.packetsReceived
        );
      });
      first = now;
      return missing;
    },
    (missing) => missing.length === 0,
    { timeoutMs, intervalMs },
  );
}
