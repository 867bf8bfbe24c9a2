/**
 * Imagery on the map: an item's stored raster, or the mosaic of a search, as a Leaflet
 * tile layer from the TileJSON stacql serves beside its STAC API. The TileJSON's tile URLs
 * carry the caller's read grant, so the tile images need no headers; the layers sit in
 * Leaflet's tile pane, above the basemap and under footprints and drawings.
 */

import * as L from "leaflet";
import { keyHeaders } from "./api";
import { apiUrl, stacItemUrl } from "./format";
import { motion } from "./map";

/** The parts of a TileJSON 3.0.0 document the map uses. */
export interface TileJson {
  tiles: string[];
  bounds?: [number, number, number, number];
  minzoom?: number;
  maxzoom?: number;
}

/** What a layer is doing, for the page to say (and for scripts to wait on). */
export type ImageryState = "off" | "loading" | "loaded" | "none" | "error";

// Media types stacql renders (catalog.assets.locate.RASTER_MEDIA_TYPES).
const RASTER_TYPES = ["image/tiff", "image/jp2", "image/vnd.stac.geotiff"];

/** The TileJSON at `url`, or null when there is none (an item without a stored raster
 * answers 404). Throws when the service cannot be reached. */
export async function fetchTileJson(url: string): Promise<TileJson | null> {
  const response = await fetch(url, { headers: { Accept: "application/json", ...keyHeaders() } });
  if (!response.ok) return null;
  const body = (await response.json()) as Partial<TileJson>;
  return Array.isArray(body.tiles) && typeof body.tiles[0] === "string" ? (body as TileJson) : null;
}

/** A tile layer of `tilejson`, requesting tiles only inside its bounds and zoom range
 * (stretched above and below it). */
export function tileLayerOf(tilejson: TileJson, className: string): L.TileLayer {
  const [west, south, east, north] = tilejson.bounds ?? [-180, -85.05, 180, 85.05];
  return L.tileLayer(tilejson.tiles[0], {
    bounds: L.latLngBounds([south, west], [north, east]),
    minNativeZoom: tilejson.minzoom,
    maxNativeZoom: tilejson.maxzoom,
    className,
  });
}

/** Whether an item has an asset stacql may render: a raster served by this same stacql
 * (its href is on the page's origin). External rasters are never tiled. */
export function hasStoredRaster(assets: { href: string; mediaType: string | null }[]): boolean {
  return assets.some((asset) => {
    const media = (asset.mediaType ?? "").split(";")[0].trim();
    try {
      const origin = new URL(asset.href, document.baseURI).origin;
      return RASTER_TYPES.includes(media) && origin === location.origin;
    } catch {
      return false;
    }
  });
}

/**
 * Keep `map` on whole zooms while imagery is shown (`on`), or give back its own snapping.
 * At fractional zooms Leaflet scales the tiles, which blurs them and leaves hairline seams
 * between them through which the basemap shows (Leaflet issue 3575).
 */
function snapToTiles(map: L.Map, on: boolean, own: number): void {
  map.options.zoomSnap = on ? 1 : own;
  const zoom = map.getZoom();
  if (on && zoom !== Math.round(zoom)) map.setZoom(Math.round(zoom), { animate: false });
}

/** Report `layer`'s state: loading until the tiles in view have loaded. */
function follow(layer: L.TileLayer, report: (state: ImageryState) => void): void {
  layer.on("loading", () => report("loading"));
  layer.on("load", () => report("loaded"));
}

/**
 * The raster of an item on `map`, fitted to its bounds; null (and nothing added) when the
 * item has no stored raster, i.e. its TileJSON does not answer 200.
 */
export async function showItemImagery(
  map: L.Map, collectionId: string, itemId: string, report: (state: ImageryState) => void,
): Promise<L.TileLayer | null> {
  const tilejson = await fetchTileJson(stacItemUrl(collectionId, itemId, "tilejson.json"));
  if (!tilejson) {
    report("none");
    return null;
  }
  const layer = tileLayerOf(tilejson, "imagery item-imagery");
  snapToTiles(map, true, map.options.zoomSnap ?? 1);
  // Fitted first, so the layer asks only for the tiles of the view it ends in.
  const bounds = layer.options.bounds as L.LatLngBounds;
  map.fitBounds(bounds, { ...motion, padding: [20, 20], maxZoom: tilejson.maxzoom });
  follow(layer, report);
  report("loading");
  return layer.addTo(map);
}

interface MosaicDocument {
  links?: { rel: string; href: string }[];
  description?: string;
}

/** Register a STAC search body with `POST /mosaics`; the URL of its TileJSON. */
export async function registerMosaic(search: Record<string, unknown>): Promise<string> {
  const response = await fetch(apiUrl("mosaics"), {
    method: "POST",
    headers: { "Content-Type": "application/json", Accept: "application/json", ...keyHeaders() },
    body: JSON.stringify(search),
  });
  const body = (await response.json().catch(() => ({}))) as MosaicDocument;
  const tilejson = body.links?.find((link) => link.rel === "tilejson")?.href;
  if (response.status !== 201 || !tilejson) {
    throw new Error(body.description ?? `the service answered HTTP ${response.status}`);
  }
  return tilejson;
}

/**
 * A search shown as one mosaic layer (the newest item on top where items overlap). `show`
 * registers the search and swaps the layer when the search differs from the one shown;
 * `show(null)` removes it. Late answers of an older search are dropped.
 */
export class MosaicLayer {
  private layer: L.TileLayer | null = null;
  private shown: string | null = null;
  private generation = 0;
  private readonly zoomSnap: number;

  constructor(
    private readonly map: L.Map,
    private readonly report: (state: ImageryState, message?: string) => void,
  ) {
    this.zoomSnap = map.options.zoomSnap ?? 1;
  }

  async show(search: Record<string, unknown> | null): Promise<void> {
    const key = search ? JSON.stringify(search) : null;
    if (key === this.shown) return;
    const mine = ++this.generation;
    this.shown = key;
    if (!search) {
      this.replace(null);
      this.report("off");
      return;
    }
    this.report("loading");
    try {
      const tilejson = await fetchTileJson(await registerMosaic(search));
      if (mine !== this.generation) return;
      if (!tilejson) throw new Error("the mosaic has no TileJSON");
      const layer = tileLayerOf(tilejson, "imagery mosaic-imagery");
      follow(layer, (state) => mine === this.generation && this.report(state));
      this.replace(layer);
    } catch (error) {
      if (mine !== this.generation) return;
      this.shown = null; // a later `show` of the same search tries again
      this.replace(null);
      this.report("error", (error as Error).message);
    }
  }

  private replace(layer: L.TileLayer | null): void {
    this.layer?.remove();
    this.layer = layer;
    snapToTiles(this.map, layer !== null, this.zoomSnap);
    layer?.addTo(this.map);
  }
}
