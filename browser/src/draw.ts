/**
 * Drawing the area of interest on the map: a rectangle from two clicked corners, or a
 * polygon from clicked vertices (finished on its first vertex, by double click or Enter).
 * Clicks rather than drags, so it works the same with a mouse and a finger.
 */

import * as L from "leaflet";

/** The area of interest: a bbox [west, south, east, north] or a GeoJSON polygon. */
export type Aoi = { kind: "bbox"; bbox: number[] } | { kind: "polygon"; geometry: GeoJSON.Polygon };

type Mode = "rectangle" | "polygon" | null;

const AOI_STYLE: L.PathOptions = { color: "#e8590c", weight: 2, dashArray: "6 4", fillOpacity: 0.05 };
const DECIMALS = 6; // ~0.1 m: the precision shown in the bbox field, so it equals what is queried

function round(value: number): number {
  return Number(value.toFixed(DECIMALS));
}

/** A longitude/latitude pair on the usual ranges, rounded. */
function position(latlng: L.LatLng): [number, number] {
  const wrapped = latlng.wrap();
  return [round(wrapped.lng), round(Math.max(-90, Math.min(90, wrapped.lat)))];
}

export class AoiTool {
  private mode: Mode = null;
  private points: L.LatLng[] = [];
  private preview: L.Path | null = null;
  private shape: L.Layer | null = null;
  private readonly container: HTMLElement;

  constructor(
    private readonly map: L.Map,
    private readonly onChange: (aoi: Aoi | null) => void,
    private readonly onModeChange: (mode: Mode, hint: string) => void,
  ) {
    this.container = map.getContainer();
    map.on("click", (event: L.LeafletMouseEvent) => this.click(event.latlng));
    map.on("mousemove", (event: L.LeafletMouseEvent) => this.move(event.latlng));
    map.on("dblclick", () => this.mode === "polygon" && this.finishPolygon());
    // On the document: a click on a footprint may leave the focus outside the map.
    document.addEventListener("keydown", (event) => {
      if (!this.mode || !this.container.isConnected) return;
      if (event.key === "Escape") this.cancel();
      else if (event.key === "Enter" && this.mode === "polygon") this.finishPolygon();
      else return;
      event.preventDefault();
    });
  }

  /** Start drawing; clicks on the map now place corners or vertices. */
  start(mode: "rectangle" | "polygon"): void {
    this.cancel();
    this.mode = mode;
    this.map.doubleClickZoom.disable();
    this.container.classList.add("drawing");
    this.onModeChange(
      mode,
      mode === "rectangle"
        ? "Click two opposite corners on the map (Esc cancels)."
        : "Click the vertices; finish on the first one, by double click or Enter (Esc cancels).",
    );
  }

  /** Stop drawing without changing the area of interest. */
  cancel(): void {
    this.points = [];
    this.preview?.remove();
    this.preview = null;
    this.stop();
  }

  /** Remove the area of interest. */
  clear(): void {
    this.cancel();
    this.shape?.remove();
    this.shape = null;
    this.onChange(null);
  }

  /** Show an area of interest (typed in, or kept from an earlier visit); `notify` false
   * only redraws it. Returns its bounds. */
  show(aoi: Aoi, notify = true): L.LatLngBounds {
    this.cancel();
    const shape = aoi.kind === "bbox"
      ? L.rectangle([[aoi.bbox[1], aoi.bbox[0]], [aoi.bbox[3], aoi.bbox[2]]], AOI_STYLE)
      : L.polygon(aoi.geometry.coordinates[0].map(([lng, lat]) => [lat, lng] as [number, number]), AOI_STYLE);
    this.setShape(shape);
    if (notify) this.onChange(aoi);
    return shape.getBounds();
  }

  get drawing(): boolean {
    return this.mode !== null;
  }

  private stop(): void {
    const was = this.mode;
    this.mode = null;
    this.container.classList.remove("drawing");
    // Re-enabled after this click's events are done, so the finishing double click does not zoom.
    setTimeout(() => this.map.doubleClickZoom.enable(), 0);
    if (was) this.onModeChange(null, "");
  }

  private click(latlng: L.LatLng): void {
    if (this.mode === "rectangle") {
      this.points.push(latlng);
      if (this.points.length === 2) this.finishRectangle();
    } else if (this.mode === "polygon") {
      const first = this.points[0];
      const closes =
        first && this.points.length >= 3 && this.pixels(first, latlng) < 10;
      const last = this.points[this.points.length - 1];
      const repeats = last && this.pixels(last, latlng) < 4; // the clicks of a double click
      if (closes) this.finishPolygon();
      else if (!repeats) this.points.push(latlng);
    }
  }

  private pixels(a: L.LatLng, b: L.LatLng): number {
    return this.map.latLngToContainerPoint(a).distanceTo(this.map.latLngToContainerPoint(b));
  }

  private move(latlng: L.LatLng): void {
    if (!this.mode || this.points.length === 0) return;
    this.preview?.remove();
    const preview: L.Path =
      this.mode === "rectangle"
        ? L.rectangle(L.latLngBounds(this.points[0], latlng), { ...AOI_STYLE, interactive: false })
        : L.polyline([...this.points, latlng], { ...AOI_STYLE, interactive: false });
    this.preview = preview.addTo(this.map);
  }

  private finishRectangle(): void {
    const [a, b] = this.points.map(position);
    const bbox = [Math.min(a[0], b[0]), Math.min(a[1], b[1]), Math.max(a[0], b[0]), Math.max(a[1], b[1])];
    this.cancel();
    this.show({ kind: "bbox", bbox });
  }

  private finishPolygon(): void {
    const ring = this.points.map(position);
    this.cancel();
    if (ring.length < 3) return;
    ring.push(ring[0]);
    this.show({ kind: "polygon", geometry: { type: "Polygon", coordinates: [ring] } });
  }

  private setShape(shape: L.Path): void {
    this.shape?.remove();
    shape.options.interactive = false;
    this.shape = shape.addTo(this.map);
  }
}
