// The stage's geometry (stage-geometry.ts): tiles fill the stage without overflowing it, a
// grid page holds as many tiles as fit at the minimum size (1 to 25).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  GAP,
  MAX_PAGE_TILES,
  MIN_TILE,
  fitGrid,
  fitOne,
  pageCapacity,
} from '../src/lib/call/stage-geometry.js';

test('fitGrid: the largest 16:9 tiles that together fit the box', () => {
  for (const box of [
    { width: 1264, height: 670 },
    { width: 344, height: 560 },
    { width: 584, height: 470 },
    { width: 1904, height: 950 },
  ]) {
    for (let count = 1; count <= 25; count++) {
      const { columns, rows, tile } = fitGrid(count, box);
      assert.ok(columns * rows >= count, `${count} tiles in ${columns}x${rows}`);
      assert.ok(columns * tile.width + (columns - 1) * GAP <= box.width, `${count}: width fits`);
      assert.ok(rows * tile.height + (rows - 1) * GAP <= box.height, `${count}: height fits`);
      assert.equal(tile.height, Math.floor((tile.width * 9) / 16), `${count}: 16:9`);
    }
  }
  // Three tiles on a wide stage: two columns beat one row of three or a column.
  assert.equal(fitGrid(3, { width: 1264, height: 670 }).columns, 2);
  assert.equal(fitGrid(2, { width: 344, height: 560 }).columns, 1);
  assert.deepEqual(fitGrid(0, { width: 100, height: 100 }).tile, { width: 0, height: 0 });
});

test('pageCapacity: tiles no smaller than the minimum, at least 1, at most 25', () => {
  assert.equal(pageCapacity({ width: 0, height: 0 }), 1);
  assert.equal(pageCapacity({ width: 100, height: 50 }), 1);
  assert.equal(pageCapacity({ width: 5000, height: 3000 }), MAX_PAGE_TILES);
  // 960x600 page, chat closed: 4 columns, 3 rows.
  assert.equal(pageCapacity({ width: 944, height: 470 }), 12);
  const box = { width: 584, height: 470 };
  const n = pageCapacity(box);
  const { tile } = fitGrid(n, box);
  assert.ok(tile.width >= MIN_TILE.width - 1 || tile.height >= MIN_TILE.height - 1);
});

test('fitOne: a 16:9 box inside the given one', () => {
  assert.deepEqual(fitOne({ width: 1600, height: 450 }), { width: 800, height: 450 });
  assert.deepEqual(fitOne({ width: 320, height: 900 }), { width: 320, height: 180 });
});
