// The stage's geometry, pure functions of sizes (no Svelte state, unit-tested): how many
// tiles a grid page holds and the largest 16:9 tiles that fit the stage together.

export type TileSource = 'self' | 'webcam' | 'screen';
export type ViewMode = 'grid' | 'speaker';

/** What the layout needs of a tile (the page adds what the tile shows). */
export interface TileRef {
  /** Unique on the stage: `${peerId}/${source}`. */
  key: string;
  peerId: string;
  source: TileSource;
  /** Ours (our camera, or the screen we share): no consumer, not in the view. */
  local: boolean;
}

export interface Size {
  width: number;
  height: number;
}

/** Where the tiles go: sizes in CSS pixels, every tile of one group the same size. */
export interface GridGeometry {
  columns: number;
  rows: number;
  tile: Size;
}

/** Tiles of the grid are no smaller than this (CSS px), so a page holds what fits. */
export const MIN_TILE: Size = { width: 200, height: 112 };
/** At most this many tiles on one grid page. */
export const MAX_PAGE_TILES = 25;
/** Space between tiles (CSS px; the stage's CSS uses the same). */
export const GAP = 8;
/** Height of the page controls under the grid and of the filmstrip's buttons' width. */
export const PAGER_SIZE = 44;
export const ASPECT = 16 / 9;

export const tileKey = (peerId: string, source: TileSource): string => `${peerId}/${source}`;

/**
 * The largest 16:9 tiles for `count` tiles in `box`, over every column count: each tile
 * fits, and together they fit the box (no overflow, no overlap).
 */
export function fitGrid(count: number, box: Size, gap = GAP): GridGeometry {
  let best: GridGeometry = { columns: 1, rows: Math.max(1, count), tile: { width: 0, height: 0 } };
  if (count <= 0 || box.width <= 0 || box.height <= 0) return best;
  for (let columns = 1; columns <= count; columns++) {
    const rows = Math.ceil(count / columns);
    const width = Math.min(
      (box.width - (columns - 1) * gap) / columns,
      ((box.height - (rows - 1) * gap) / rows) * ASPECT,
    );
    if (width > best.tile.width) {
      const w = Math.max(0, Math.floor(width));
      best = { columns, rows, tile: { width: w, height: Math.floor(w / ASPECT) } };
    }
  }
  return best;
}

/** How many tiles no smaller than MIN_TILE fit in `box` (1 to MAX_PAGE_TILES). */
export function pageCapacity(box: Size, gap = GAP): number {
  const columns = Math.floor((box.width + gap) / (MIN_TILE.width + gap));
  const rows = Math.floor((box.height + gap) / (MIN_TILE.height + gap));
  return Math.min(MAX_PAGE_TILES, Math.max(1, columns * rows));
}

/** A 16:9 box as large as fits in `box`. */
export function fitOne(box: Size): Size {
  const width = Math.max(0, Math.floor(Math.min(box.width, box.height * ASPECT)));
  return { width, height: Math.floor(width / ASPECT) };
}
