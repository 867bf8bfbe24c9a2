/**
 * A Leaflet map on an offline basemap (Natural Earth country outlines from world-atlas,
 * served beside the page) with a layer of item footprints, one of them highlighted.
 * The basemap has a pane of its own under Leaflet's tile pane, so imagery tile layers
 * cover the land and footprints stay on top of the imagery.
 */

import * as L from "leaflet";
import { feature } from "topojson-client";
import type { GeometryCollection, Topology } from "topojson-specification";

const FOOTPRINT: L.PathOptions = { color: "#1f6feb", weight: 1.5, fillOpacity: 0.12 };
const SELECTED: L.PathOptions = { color: "#d6336c", weight: 3, fillOpacity: 0.3 };
const BASEMAP_PANE = "basemap";
const BASEMAP_Z_INDEX = "150"; // Leaflet's tile pane is 200, its overlay pane 400

let countries: Promise<GeoJSON.FeatureCollection> | null = null;

/** The basemap's country outlines, fetched once per page. */
function loadCountries(): Promise<GeoJSON.FeatureCollection> {
  countries ??= fetch("countries-50m.json")
    .then((response) => response.json() as Promise<Topology>)
    .then((topology) => {
      const layer = topology.objects.countries as GeometryCollection;
      return feature(topology, layer) as GeoJSON.FeatureCollection;
    });
  return countries;
}

const still = window.matchMedia("(prefers-reduced-motion: reduce)").matches;

/** Options that make map moves animated, unless the user asked for reduced motion. */
export const motion = { animate: !still };

/** A map in `container`, showing the whole world until told otherwise. */
export function createMap(container: HTMLElement): L.Map {
  const map = L.map(container, {
    zoomAnimation: !still,
    fadeAnimation: !still,
    markerZoomAnimation: !still,
    inertia: !still,
    worldCopyJump: false,
    minZoom: 1,
    maxZoom: 18,
    attributionControl: true,
    zoomSnap: 0.25,
  });
  map.attributionControl.setPrefix(false);
  map.attributionControl.addAttribution("Natural Earth (world-atlas)");
  map.setView([20, 0], 1.5);
  map.createPane(BASEMAP_PANE).style.zIndex = BASEMAP_Z_INDEX;
  loadCountries()
    .then((outlines) => {
      L.geoJSON(outlines, {
        style: { color: "#8a8f98", weight: 0.8, fillColor: "#f4f1ea", fillOpacity: 1 },
        interactive: false,
        pane: BASEMAP_PANE,
      }).addTo(map);
    })
    .catch(() => container.setAttribute("data-basemap", "missing"));
  return map;
}

/** Item footprints on a map; `select` highlights one and brings it to the front. */
export class Footprints {
  private readonly layer: L.FeatureGroup;
  private readonly byKey = new Map<string, L.GeoJSON>();
  private selected: string | null = null;
  private filled = true;

  constructor(
    map: L.Map,
    private readonly onClick: (key: string) => void = () => {},
  ) {
    this.layer = L.featureGroup().addTo(map);
  }

  /** Replace the footprints; `key` names each for `select`, `label` is its tooltip. */
  show(items: { key: string; geometry: GeoJSON.Geometry | null; label: string | null }[]): void {
    this.layer.clearLayers();
    this.byKey.clear();
    this.selected = null;
    for (const item of items) {
      if (!item.geometry) continue;
      const shape = L.geoJSON(item.geometry, { style: this.style(false) });
      if (item.label) shape.bindTooltip(item.label, { sticky: true });
      shape.on("click", () => this.onClick(item.key));
      shape.addTo(this.layer);
      this.byKey.set(item.key, shape);
    }
  }

  select(key: string | null): void {
    if (this.selected) this.byKey.get(this.selected)?.setStyle(this.style(false));
    this.selected = key;
    const shape = key ? this.byKey.get(key) : undefined;
    if (shape) shape.setStyle(this.style(true)).bringToFront();
  }

  /** Fill the shapes, or draw their outlines alone to leave the imagery under them
   * uncoloured (they still answer clicks and show their tooltips). */
  setFilled(filled: boolean): void {
    this.filled = filled;
    for (const [key, shape] of this.byKey) shape.setStyle(this.style(key === this.selected));
  }

  private style(selected: boolean): L.PathOptions {
    const style = selected ? SELECTED : FOOTPRINT;
    return this.filled ? style : { ...style, fillOpacity: 0 };
  }

  bounds(): L.LatLngBounds | null {
    const bounds = this.layer.getBounds();
    return bounds.isValid() ? bounds : null;
  }

  boundsOf(key: string): L.LatLngBounds | null {
    const bounds = this.byKey.get(key)?.getBounds();
    return bounds?.isValid() ? bounds : null;
  }
}
