// Which simulcast layer a viewer's tile needs: pure functions over tile sizes and a
// producer's encodings, no mediasoup objects. The camera ladder is 320x180, 640x360 and
// 1280x720: encoding i of n is the top (1280x720) scaled down by 2^(n-1-i).
import type { MediaSource } from '@meet/protocol';

/** Height of the top encoding of the camera ladder, in pixels. */
export const TOP_LAYER_HEIGHT = 720;
/** A layer fits a tile when its height is at least this share of the tile's height. */
export const FIT_RATIO = 0.75;

export interface TileSize {
  /** Rendered size in device pixels. */
  width: number;
  height: number;
}

export interface Scalability {
  /** Spatial layers the producer sends (its simulcast encodings, or SVC spatial layers). */
  spatialLayers: number;
  /** Temporal layers in each. */
  temporalLayers: number;
}

export interface PreferredLayers {
  spatialLayer: number;
  temporalLayer: number;
}

/** Layers of a scalability mode such as `L3T3`, `S2T1` or `L1T3_KEY`; L1T1 when absent or unknown. */
export function parseScalabilityMode(mode: string | undefined): Scalability {
  const match = /^[LS]([1-9]\d?)T([1-9]\d?)(_KEY)?(_SHIFT)?$/.exec(mode ?? '');
  if (!match) return { spatialLayers: 1, temporalLayers: 1 };
  return { spatialLayers: Number(match[1]), temporalLayers: Number(match[2]) };
}

/** Height of spatial layer `layer` out of `layers` in the camera ladder. */
export function ladderHeight(layer: number, layers: number): number {
  return TOP_LAYER_HEIGHT / 2 ** (layers - 1 - layer);
}

/**
 * The smallest spatial layer whose height is at least 75 % of the tile's effective height
 * (its height, or the height a 16:9 picture as wide as the tile would have, if larger);
 * the top one when none is. Clamped to 0 … layers - 1.
 */
export function spatialLayerForTile(tile: TileSize, layers: number): number {
  const top = Math.max(0, Math.floor(layers) - 1);
  const effectiveHeight = Math.max(tile.height, (tile.width * 9) / 16);
  for (let layer = 0; layer < top; layer++) {
    if (ladderHeight(layer, top + 1) >= FIT_RATIO * effectiveHeight) return layer;
  }
  return top;
}

/**
 * The layers a consumer should prefer: for a camera, the one that fits its tile (the top
 * one when the viewer never said its tile's size); a screen share always its top layer;
 * the highest temporal layer.
 */
export function preferredLayers(
  source: MediaSource,
  scalability: Scalability,
  tile: TileSize | undefined,
): PreferredLayers {
  const top = Math.max(0, scalability.spatialLayers - 1);
  const temporalLayer = Math.max(0, scalability.temporalLayers - 1);
  if (source === 'screen' || !tile) return { spatialLayer: top, temporalLayer };
  return { spatialLayer: spatialLayerForTile(tile, scalability.spatialLayers), temporalLayer };
}

/** Consumer priority for the bandwidth estimator: screen share first, then the active speaker. */
export function consumerPriority(source: MediaSource, isActiveSpeaker: boolean): number {
  if (source === 'screen') return 3;
  if (source === 'webcam' && isActiveSpeaker) return 2;
  return 1;
}
