// How the call is laid out on the stage: grid view (in pages sized to the stage) or speaker
// view (one main tile and a filmstrip of the others, in pages), who is pinned, and so which
// tiles are on screen and at what size. Only on-screen tiles are rendered: their videos are
// the view the receiver reports to the server (the others are not forwarded).

import {
  ASPECT,
  GAP,
  MAX_PAGE_TILES,
  PAGER_SIZE,
  fitGrid,
  fitOne,
  pageCapacity,
  type GridGeometry,
  type Size,
  type TileRef,
  type ViewMode,
} from './stage-geometry.js';

export class CallLayout<T extends TileRef = TileRef> {
  /** The stage's inner size (CSS px), measured by the stage. */
  stage = $state<Size>({ width: 0, height: 0 });
  /** The pinned tile's key (pinning shows speaker view with it as the main tile). */
  pinned = $state<string | undefined>(undefined);
  /** The view the person chose (undefined: not chosen, screen shares pick speaker view). */
  #chosen = $state<ViewMode | undefined>(undefined);
  /** The screen shares there were when the person chose (a new one switches to speaker view). */
  #screensAtChoice = $state<string[]>([]);
  #page = $state(0);
  #stripPage = $state(0);
  readonly #tiles: () => T[];
  readonly #speaker: () => string | null;

  /**
   * `tiles`: every tile of the call in order (self first); `speaker`: the peer whose
   * webcam is the main tile of speaker view when nothing is pinned or shared.
   */
  constructor(tiles: () => T[], speaker: () => string | null) {
    this.#tiles = tiles;
    this.#speaker = speaker;
  }

  readonly tiles = $derived.by(() => this.#tiles());
  /** Others' screen shares (ours is not shown large to ourselves unless pinned). */
  readonly #screens = $derived(this.tiles.filter((t) => t.source === 'screen' && !t.local).map((t) => t.key));
  /** The pinned tile if it is still there. */
  readonly #pinnedTile = $derived(this.tiles.find((t) => t.key === this.pinned));

  readonly mode: ViewMode = $derived.by(() => {
    if (this.#pinnedTile) return 'speaker';
    const newScreen = this.#screens.some((key) => !this.#screensAtChoice.includes(key));
    if (newScreen) return 'speaker';
    return this.#chosen ?? 'grid';
  });

  // ---- Grid view ----

  /** The grid's box, and whether it needs page controls (which take PAGER_SIZE under it). */
  readonly #gridBox = $derived.by(() => {
    const full = this.stage;
    const paged = this.tiles.length > pageCapacity(full);
    return {
      box: paged ? { width: full.width, height: Math.max(0, full.height - PAGER_SIZE) } : full,
      paged,
    };
  });
  readonly pageSize = $derived(this.#gridBox.paged ? pageCapacity(this.#gridBox.box) : MAX_PAGE_TILES);
  readonly pageCount = $derived(Math.max(1, Math.ceil(this.tiles.length / this.pageSize)));
  /** The page shown (0-based), kept within the pages there are when people leave. */
  readonly page = $derived(Math.min(this.#page, this.pageCount - 1));
  readonly pageTiles: T[] = $derived(
    this.tiles.slice(this.page * this.pageSize, (this.page + 1) * this.pageSize),
  );
  readonly grid: GridGeometry = $derived(fitGrid(this.pageTiles.length, this.#gridBox.box));

  // ---- Speaker view ----

  /** The main tile: pinned, else a screen share, else the active speaker, else the first other. */
  readonly main: T | undefined = $derived.by(() => {
    const tiles = this.tiles;
    if (this.#pinnedTile) return this.#pinnedTile;
    const speaker = this.#speaker();
    return (
      tiles.find((t) => t.source === 'screen' && !t.local) ??
      tiles.find((t) => t.source === 'webcam' && t.peerId === speaker) ??
      tiles.find((t) => t.source === 'webcam') ??
      tiles[0]
    );
  });
  readonly #others = $derived(this.tiles.filter((t) => t !== this.main));
  /** The filmstrip's tile size: a strip under the main tile, about a fifth of the stage. */
  readonly stripTile: Size = $derived.by(() => {
    const height = Math.round(Math.min(150, Math.max(68, this.stage.height * 0.2)));
    return { width: Math.round(height * ASPECT), height };
  });
  readonly stripSize = $derived.by(() => {
    const step = this.stripTile.width + GAP;
    const all = Math.floor((this.stage.width + GAP) / step);
    if (this.#others.length <= all) return Math.max(1, all);
    return Math.max(1, Math.floor((this.stage.width - 2 * (PAGER_SIZE + GAP) + GAP) / step));
  });
  readonly stripPageCount = $derived(Math.max(1, Math.ceil(this.#others.length / this.stripSize)));
  readonly stripPage = $derived(Math.min(this.#stripPage, this.stripPageCount - 1));
  readonly strip: T[] = $derived(
    this.#others.slice(this.stripPage * this.stripSize, (this.stripPage + 1) * this.stripSize),
  );
  /** The main tile's size: the stage above the filmstrip (all of it when there is no strip). */
  readonly mainSize: Size = $derived(
    fitOne({
      width: this.stage.width,
      height: this.stage.height - (this.#others.length > 0 ? this.stripTile.height + GAP : 0),
    }),
  );

  /** Every tile on screen now, in the current view. */
  readonly onScreen: T[] = $derived(
    this.mode === 'grid' ? this.pageTiles : this.main ? [this.main, ...this.strip] : [],
  );

  // ---- What the person does ----

  /** Chooses grid or speaker view (choosing grid unpins). */
  setMode(mode: ViewMode): void {
    this.#chosen = mode;
    this.#screensAtChoice = [...this.#screens];
    if (mode === 'grid') this.pinned = undefined;
  }

  toggleMode(): void {
    this.setMode(this.mode === 'grid' ? 'speaker' : 'grid');
  }

  /** Pins a tile (speaker view with it as the main tile), or unpins it if it is pinned. */
  togglePin(key: string): void {
    if (this.pinned === key && this.#pinnedTile) {
      this.pinned = undefined;
      return;
    }
    this.pinned = key;
    this.#stripPage = 0;
  }

  setPage(page: number): void {
    this.#page = Math.max(0, Math.min(page, this.pageCount - 1));
  }

  setStripPage(page: number): void {
    this.#stripPage = Math.max(0, Math.min(page, this.stripPageCount - 1));
  }
}
