// Layout checks of a page at its current viewport size, and screenshots to look at later.
//
// layoutProblems(page) lists, as sentences (an empty list means none):
// - horizontal overflow: the document is wider than the viewport (a horizontal scrollbar),
//   with the elements that stick out past the viewport's right edge;
// - overlaps: two visible boxes among the tiles (`[data-testid="tile"]`), the controls bar
//   (`[data-testid="controls"]`) and the chat panel (`[data-testid="chat-panel"]`) that
//   intersect by more than 1 px². Boxes are clipped by their scrolling / overflow-hidden
//   ancestors and by the viewport first: a tile scrolled out of its strip overlaps nothing.
//
// measureLayout(page) gives the same as data. saveScreenshot(page, name) writes
// test-artifacts/<name>.png at the repository root (gitignored).
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';

export const artifactsDir = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'test-artifacts');

/** The boxes checked for overlaps. */
export const overlapSelectors = [
  '[data-testid="tile"]',
  '[data-testid="controls"]',
  '[data-testid="chat-panel"]',
];

export interface Overlap {
  /** Descriptions of the two elements (tag#id.class[data-testid][data-name]...). */
  a: string;
  b: string;
  /** Intersection area in px². */
  area: number;
}

export interface LayoutMeasurement {
  viewport: { width: number; height: number };
  /** document.scrollingElement.scrollWidth: wider than the viewport means overflow. */
  scrollWidth: number;
  /** Elements sticking out past the viewport's right edge (outermost first, at most 20). */
  sticking: Array<{ element: string; right: number }>;
  overlaps: Overlap[];
}

export interface LayoutOptions {
  /** Elements matching these selectors are left out of the overlap check. */
  ignore?: string[];
}

/** The layout of the page, as data (see layoutProblems for sentences). */
export async function measureLayout(page: Page, options: LayoutOptions = {}): Promise<LayoutMeasurement> {
  // tsx (esbuild, keepNames) wraps the named functions below in `__name(fn, "name")`, a
  // helper of this module that the page does not have: give the page one.
  await page.evaluate('globalThis.__name ??= (fn) => fn');
  return page.evaluate(
    ({ selectors, ignore }) => {
      const describe = (el: Element): string => {
        let d = el.tagName.toLowerCase();
        if (el.id) d += `#${el.id}`;
        const classes = Array.from(el.classList)
          .filter((c) => !/^svelte-/.test(c))
          .slice(0, 3);
        if (classes.length) d += `.${classes.join('.')}`;
        for (const attr of ['data-testid', 'data-name', 'data-self', 'aria-label']) {
          const value = el.getAttribute(attr);
          if (value !== null) d += `[${attr}="${value.slice(0, 40)}"]`;
        }
        return d;
      };
      const visible = (el: Element): boolean => {
        const style = getComputedStyle(el);
        if (style.display === 'none' || style.visibility === 'hidden' || Number(style.opacity) === 0)
          return false;
        if (typeof el.checkVisibility === 'function' && !el.checkVisibility()) return false;
        const r = el.getBoundingClientRect();
        return r.width > 0 && r.height > 0;
      };
      const clips = (el: Element) => {
        const style = getComputedStyle(el);
        return style.overflowX !== 'visible' || style.overflowY !== 'visible';
      };
      type Box = { left: number; top: number; right: number; bottom: number };
      const intersect = (a: Box, b: Box): Box => ({
        left: Math.max(a.left, b.left),
        top: Math.max(a.top, b.top),
        right: Math.min(a.right, b.right),
        bottom: Math.min(a.bottom, b.bottom),
      });
      const area = (b: Box) => Math.max(0, b.right - b.left) * Math.max(0, b.bottom - b.top);
      const viewport = { width: innerWidth, height: innerHeight };
      const root = document.scrollingElement ?? document.documentElement;

      // Horizontal overflow: elements whose right edge is past the viewport and that are not
      // clipped by an ancestor (those cannot widen the page); outermost first.
      const sticking: Array<{ element: string; right: number }> = [];
      if (root.scrollWidth > innerWidth) {
        const reported = new Set<Element>();
        for (const el of Array.from(document.body.querySelectorAll('*'))) {
          if (sticking.length >= 20) break;
          if (!visible(el)) continue;
          const right = el.getBoundingClientRect().right + scrollX;
          if (right <= innerWidth + 0.5) continue;
          let clipped = false;
          let insideReported = false;
          for (let p = el.parentElement; p && p !== document.body; p = p.parentElement) {
            if (reported.has(p)) insideReported = true;
            if (clips(p) && p.getBoundingClientRect().right + scrollX <= innerWidth + 0.5) clipped = true;
          }
          if (clipped) continue;
          reported.add(el);
          if (!insideReported) sticking.push({ element: describe(el), right: Math.round(right) });
        }
      }

      // Overlaps among the checked boxes, each clipped by its ancestors and the viewport.
      const boxes: Array<{ element: string; box: Box }> = [];
      for (const el of Array.from(document.querySelectorAll(selectors.join(',')))) {
        if (ignore.some((selector) => el.matches(selector)) || !visible(el)) continue;
        const r = el.getBoundingClientRect();
        let box: Box = intersect(
          { left: r.left, top: r.top, right: r.right, bottom: r.bottom },
          { left: 0, top: 0, right: innerWidth, bottom: innerHeight },
        );
        for (let p = el.parentElement; p && p !== document.documentElement; p = p.parentElement) {
          if (!clips(p)) continue;
          const pr = p.getBoundingClientRect();
          box = intersect(box, { left: pr.left, top: pr.top, right: pr.right, bottom: pr.bottom });
        }
        if (area(box) > 0) boxes.push({ element: describe(el), box });
      }
      const overlaps: Array<{ a: string; b: string; area: number }> = [];
      for (let i = 0; i < boxes.length; i++) {
        for (let j = i + 1; j < boxes.length; j++) {
          const a = boxes[i]!;
          const b = boxes[j]!;
          const shared = area(intersect(a.box, b.box));
          if (shared > 1) overlaps.push({ a: a.element, b: b.element, area: Math.round(shared) });
        }
      }
      return { viewport, scrollWidth: root.scrollWidth, sticking, overlaps };
    },
    { selectors: overlapSelectors, ignore: options.ignore ?? [] },
  );
}

/**
 * The page's layout problems at its current viewport size, as sentences: an empty list
 * when there are none (`assert.deepEqual(await layoutProblems(page), [])`).
 */
export async function layoutProblems(page: Page, options: LayoutOptions = {}): Promise<string[]> {
  const m = await measureLayout(page, options);
  const problems: string[] = [];
  if (m.scrollWidth > m.viewport.width) {
    const what = m.sticking.map((s) => `${s.element} (right edge at ${s.right})`).join(', ');
    problems.push(
      `horizontal overflow: the page is ${m.scrollWidth}px wide in a ${m.viewport.width}px viewport` +
        (what ? `; sticking out: ${what}` : ''),
    );
  }
  for (const o of m.overlaps) problems.push(`overlap of ${o.area}px²: ${o.a} and ${o.b}`);
  return problems;
}

/**
 * Saves a screenshot of the page (the viewport, or the whole page with `fullPage`) as
 * test-artifacts/<name>.png; returns its path.
 */
export async function saveScreenshot(
  page: Page,
  name: string,
  { fullPage = false }: { fullPage?: boolean } = {},
): Promise<string> {
  mkdirSync(artifactsDir, { recursive: true });
  const path = join(artifactsDir, `${name.replace(/[^\w.-]+/g, '-')}.png`);
  await page.screenshot({ path, fullPage });
  return path;
}
