/**
 * The search page: collections, an area of interest drawn on the map, a date range, a
 * cloud-cover slider where the collections have that property, a sort order; results
 * listed with thumbnails and drawn as footprints, paged by cursor; on request, the imagery
 * of every match as one mosaic layer that follows the search.
 */

import * as L from "leaflet";
import { gql } from "./api";
import { h, replace } from "./dom";
import { type Aoi, AoiTool } from "./draw";
import { formatDatetime, isWebHref, itemRoute } from "./format";
import { type ImageryState, MosaicLayer } from "./imagery";
import { createMap, Footprints, motion } from "./map";
import {
  allCollections, type CollectionSummary, HAS_PROPERTY, type ItemPage, type ItemSummary, SEARCH,
} from "./queries";

const PAGE_SIZE = 20;
const CLOUD = "eo:cloud_cover";
const SORTS: Record<string, { label: string; sortBy: { field: string; direction: "ASC" | "DESC" }[]; cloud?: boolean }> = {
  newest: { label: "Newest first", sortBy: [{ field: "datetime", direction: "DESC" }] },
  oldest: { label: "Oldest first", sortBy: [{ field: "datetime", direction: "ASC" }] },
  clearest: { label: "Least cloudy first", sortBy: [{ field: CLOUD, direction: "ASC" }], cloud: true },
  id: { label: "By id", sortBy: [{ field: "id", direction: "ASC" }] },
};

/** What the user asked for; kept while they visit item pages, so "back" finds it again. */
interface SearchState {
  collections: Set<string>;
  aoi: Aoi | null;
  start: string; // YYYY-MM-DD or ""
  end: string;
  cloudMax: number; // 100: no condition
  sort: keyof typeof SORTS;
  cursors: (string | null)[]; // the `after` of each page visited; the last is the current page
  mosaic: boolean; // the search's imagery shown on the map
}

const state: SearchState = {
  collections: new Set(), aoi: null, start: "", end: "", cloudMax: 100, sort: "newest", cursors: [null],
  mosaic: false,
};
let collectionsCache: Promise<CollectionSummary[]> | null = null;

/** The GraphQL variables of the current search (without paging). */
export function searchVariables(current: SearchState = state): Record<string, unknown> {
  const variables: Record<string, unknown> = { sortBy: SORTS[current.sort].sortBy };
  if (current.collections.size) variables.collections = [...current.collections];
  if (current.aoi?.kind === "bbox") variables.bbox = current.aoi.bbox;
  if (current.aoi?.kind === "polygon") variables.intersects = current.aoi.geometry;
  if (current.start || current.end) {
    variables.datetime = {
      start: current.start ? `${current.start}T00:00:00Z` : null,
      end: current.end ? `${current.end}T23:59:59.999Z` : null,
    };
  }
  if (current.cloudMax < 100) variables.where = [{ property: CLOUD, lte: current.cloudMax }];
  return variables;
}

/** The current search as a STAC search body (for `POST /mosaics`): the same items as
 * `searchVariables`, whatever their order. */
export function mosaicSearch(current: SearchState = state): Record<string, unknown> {
  const search: Record<string, unknown> = {};
  if (current.collections.size) search.collections = [...current.collections].sort();
  if (current.aoi?.kind === "bbox") search.bbox = current.aoi.bbox;
  if (current.aoi?.kind === "polygon") search.intersects = current.aoi.geometry;
  const range = searchVariables(current).datetime as { start: string | null; end: string | null } | undefined;
  if (range) search.datetime = `${range.start ?? ".."}/${range.end ?? ".."}`;
  if (current.cloudMax < 100) {
    search["filter-lang"] = "cql2-json";
    search.filter = { op: "<=", args: [{ property: CLOUD }, current.cloudMax] };
  }
  return search;
}

const MOSAIC_STATUS: Record<ImageryState, string> = {
  off: "",
  loading: "Loading imagery…",
  loaded: "Imagery shown.",
  none: "No imagery.",
  error: "Imagery could not be shown",
};

function parseBbox(text: string): number[] | null {
  const numbers = text.split(/[\s,]+/).filter(Boolean).map(Number);
  if (numbers.length !== 4 || numbers.some((n) => !Number.isFinite(n))) return null;
  const [west, south, east, north] = numbers;
  const valid = south <= north && south >= -90 && north <= 90 && Math.abs(west) <= 180 && Math.abs(east) <= 180;
  return valid ? numbers : null;
}

function thumbnail(item: ItemSummary): HTMLElement {
  const href = item.thumbnails.map((a) => a.href).find(isWebHref);
  const none = () => h("div", { class: "thumb none", "aria-hidden": "true" }, "no preview");
  if (!href) return none();
  const image = h("img", {
    class: "thumb", src: href, alt: `Thumbnail of ${item.id}`, loading: "lazy", decoding: "async",
  });
  image.addEventListener("error", () => image.replaceWith(none()), { once: true });
  return image;
}

/** Render the search page into `root`. */
export function renderSearch(root: HTMLElement): void {
  const status = h("p", { class: "status", role: "status", "aria-live": "polite" });
  const results = h("ol", { class: "results", "aria-label": "Results" });
  const previous = h("button", { type: "button", disabled: true }, "← Previous");
  const next = h("button", { type: "button", disabled: true }, "Next →");
  const pageLabel = h("span", { class: "page-label" });
  const mapElement = h("div", { class: "map", id: "search-map", tabindex: "0", "aria-label": "Map of results" });
  const mosaicToggle = h("input", { type: "checkbox", id: "mosaic-toggle", name: "mosaic", checked: state.mosaic });
  const mosaicStatus = h("span", { class: "mosaic-status", role: "status" });

  const collectionList = h("div", { class: "collection-list" }, h("p", { class: "muted" }, "Loading collections…"));
  const bboxInput = h("input", {
    id: "aoi-bbox", name: "bbox", inputmode: "decimal", placeholder: "west, south, east, north",
    autocomplete: "off", value: state.aoi?.kind === "bbox" ? state.aoi.bbox.join(", ") : "",
  });
  const aoiHint = h("p", { class: "hint", "aria-live": "polite" });
  const startInput = h("input", { type: "date", id: "date-start", name: "start", value: state.start });
  const endInput = h("input", { type: "date", id: "date-end", name: "end", value: state.end });
  const cloudValue = h("output", { for: "cloud-max" }, `${state.cloudMax} %`);
  const cloudInput = h("input", {
    type: "range", id: "cloud-max", name: "cloud", min: 0, max: 100, step: 1, value: state.cloudMax,
  });
  const cloudField = h("div", { class: "field cloud", hidden: true },
    h("label", { for: "cloud-max" }, "Max cloud cover ", cloudValue), cloudInput);
  const sortSelect = h("select", { id: "sort", name: "sort" },
    Object.entries(SORTS).map(([key, sort]) =>
      h("option", { value: key, selected: key === state.sort, "data-cloud": sort.cloud ? "1" : null }, sort.label)));
  const rectangleButton = h("button", { type: "button", class: "draw", "data-mode": "rectangle" }, "▭ Rectangle");
  const polygonButton = h("button", { type: "button", class: "draw", "data-mode": "polygon" }, "⬠ Polygon");
  const clearButton = h("button", { type: "button" }, "Clear");

  const form = h("form", { class: "controls", "aria-label": "Search" },
    h("fieldset", {}, h("legend", {}, "Collections"), collectionList),
    h("fieldset", {}, h("legend", {}, "Area of interest"),
      h("div", { class: "buttons" }, rectangleButton, polygonButton, clearButton),
      h("label", { for: "aoi-bbox" }, "Bounding box (W, S, E, N)"), bboxInput, aoiHint),
    h("fieldset", { class: "dates" }, h("legend", {}, "Date range (UTC)"),
      h("label", {}, "From", startInput), h("label", {}, "To", endInput)),
    cloudField,
    h("div", { class: "field" }, h("label", { for: "sort" }, "Sort"), sortSelect),
    h("button", { type: "submit", class: "primary" }, "Search"),
  );
  const panel = h("div", { class: "panel" }, form,
    h("section", { class: "result-section", "aria-label": "Search results" },
      h("div", { class: "mosaic-field" }, mosaicToggle,
        h("label", { for: "mosaic-toggle" }, "Show the imagery of all matches on the map"), mosaicStatus),
      status, results,
      h("div", { class: "pager" }, previous, pageLabel, next)));
  replace(root, h("div", { class: "search-view" }, panel, mapElement));

  const map = createMap(mapElement);
  const footprints = new Footprints(map, (key) => select(key, true));
  footprints.setFilled(!state.mosaic);
  const mosaic = new MosaicLayer(map, (imagery, message) => {
    // The state as an attribute too, for scripts and tests that wait for the tiles.
    mapElement.dataset.mosaic = imagery;
    mosaicStatus.textContent = message ? `${MOSAIC_STATUS[imagery]}: ${message}` : MOSAIC_STATUS[imagery];
  });
  const aoiTool = new AoiTool(
    map,
    (aoi) => {
      state.aoi = aoi;
      // The area as queried, for scripts and tests that need its exact coordinates.
      if (aoi) mapElement.dataset.aoi = JSON.stringify(aoi);
      else delete mapElement.dataset.aoi;
      bboxInput.value = aoi?.kind === "bbox" ? aoi.bbox.join(", ") : "";
      bboxInput.placeholder = aoi?.kind === "polygon" ? "polygon drawn on the map" : "west, south, east, north";
      bboxInput.removeAttribute("aria-invalid");
      run(true);
    },
    (mode, hint) => {
      aoiHint.textContent = hint;
      for (const button of [rectangleButton, polygonButton]) {
        button.setAttribute("aria-pressed", String(button.dataset.mode === mode));
      }
      // On a phone the map is above the controls: bring it into view to draw on.
      if (mode) mapElement.scrollIntoView({ block: "nearest" });
    },
  );
  if (state.aoi) restoreAoi(state.aoi);

  function restoreAoi(aoi: Aoi): void {
    mapElement.dataset.aoi = JSON.stringify(aoi);
    map.fitBounds(aoiTool.show(aoi, false), { ...motion, padding: [20, 20] });
  }

  let selectedKey: string | null = null;
  function select(key: string | null, fromMap = false): void {
    selectedKey = key;
    footprints.select(key);
    for (const row of results.querySelectorAll<HTMLElement>("li.result")) {
      const on = row.dataset.key === key;
      row.classList.toggle("selected", on);
      if (on && fromMap) row.scrollIntoView({ block: "nearest" });
    }
  }

  function renderResults(page: ItemPage): void {
    const rows = page.nodes.map((item) => {
      const key = `${item.collectionId}/${item.id}`;
      const link = h("a", { href: itemRoute(item.collectionId, item.id), class: "item-link" }, item.id);
      const locate = h("button", { type: "button", class: "locate", "aria-label": `Show ${item.id} on the map` }, "Map");
      locate.addEventListener("click", () => {
        select(key);
        const bounds = footprints.boundsOf(key);
        if (bounds) map.fitBounds(bounds, { ...motion, maxZoom: 14, padding: [20, 20] });
      });
      const row = h("li", { class: "result", "data-key": key, "data-item-id": item.id, "data-collection-id": item.collectionId },
        thumbnail(item),
        h("div", { class: "meta" }, link,
          h("span", { class: "muted" }, item.collectionId),
          h("span", {}, formatDatetime(item.datetime),
            typeof item.cloud === "number" ? ` · ☁ ${item.cloud.toFixed(1)} %` : "")),
        locate);
      row.addEventListener("mouseenter", () => select(key));
      row.addEventListener("focusin", () => select(key));
      return row;
    });
    replace(results, rows);
    footprints.show(page.nodes.map((item) => ({
      key: `${item.collectionId}/${item.id}`, geometry: item.geometry, label: item.id,
    })));
    if (selectedKey) select(selectedKey);
    const pageNumber = state.cursors.length;
    const first = (pageNumber - 1) * PAGE_SIZE;
    status.textContent = page.totalCount === 0
      ? "No items match."
      : `${page.totalCount} item${page.totalCount === 1 ? "" : "s"} match; showing ${first + 1}–${first + page.nodes.length}.`;
    pageLabel.textContent = page.totalCount ? `page ${pageNumber}` : "";
    previous.disabled = pageNumber === 1;
    next.disabled = !page.pageInfo.hasNextPage;
    next.dataset.after = page.pageInfo.endCursor ?? "";
    const bounds = footprints.bounds();
    if (!state.aoi && bounds) map.fitBounds(bounds, { ...motion, maxZoom: 12, padding: [20, 20] });
  }

  let generation = 0;
  async function run(fromStart: boolean): Promise<void> {
    if (fromStart) state.cursors = [null];
    if (state.start && state.end && state.start > state.end) {
      status.textContent = "The start date is after the end date.";
      return;
    }
    const mine = ++generation;
    void mosaic.show(state.mosaic ? mosaicSearch() : null);
    status.textContent = "Searching…";
    root.setAttribute("aria-busy", "true");
    try {
      const after = state.cursors[state.cursors.length - 1];
      const data = await gql<{ items: ItemPage }>(SEARCH, { ...searchVariables(), first: PAGE_SIZE, after });
      if (mine === generation) renderResults(data.items);
    } catch (error) {
      if (mine === generation) {
        status.textContent = `Search failed: ${(error as Error).message}`;
        replace(results);
        footprints.show([]);
      }
    } finally {
      if (mine === generation) root.removeAttribute("aria-busy");
    }
  }

  async function updateCloudField(): Promise<void> {
    const collections = state.collections.size ? [...state.collections] : null;
    let present = false;
    try {
      const data = await gql<{ aggregate: { histogram: { count: number }[] } }>(
        HAS_PROPERTY, { collections, property: CLOUD });
      present = data.aggregate.histogram.some((bucket) => bucket.count > 0);
    } catch {
      present = false;
    }
    cloudField.hidden = !present;
    for (const option of sortSelect.querySelectorAll<HTMLOptionElement>("option[data-cloud]")) {
      option.hidden = !present;
      option.disabled = !present;
    }
    if (!present && (state.cloudMax < 100 || SORTS[state.sort].cloud)) {
      state.cloudMax = 100;
      cloudInput.value = "100";
      cloudValue.textContent = "100 %";
      if (SORTS[state.sort].cloud) sortSelect.value = state.sort = "newest";
      run(true);
    }
  }

  function fitCollections(collections: CollectionSummary[]): void {
    if (state.aoi) return;
    const boxes = collections.filter((c) => state.collections.has(c.id)).map((c) => c.extent.spatial.bbox[0]).filter(Boolean);
    if (!boxes.length) return;
    const bounds = L.latLngBounds(boxes.flatMap((b) => [[b[1], b[0]], [b[3], b[2]]] as [number, number][]));
    map.fitBounds(bounds, { ...motion, maxZoom: 12, padding: [20, 20] });
  }

  collectionsCache ??= allCollections(gql);
  collectionsCache.then((collections) => {
    const boxes = collections.map((collection) => {
      const box = h("input", {
        type: "checkbox", name: "collection", value: collection.id, checked: state.collections.has(collection.id),
      });
      box.addEventListener("change", () => {
        if (box.checked) state.collections.add(collection.id);
        else state.collections.delete(collection.id);
        fitCollections(collections);
        void updateCloudField();
        run(true);
      });
      return h("label", { class: "collection" }, box,
        h("span", {}, collection.title || collection.id),
        collection.title && collection.title !== collection.id ? h("small", { class: "muted" }, collection.id) : null);
    });
    replace(collectionList, boxes.length ? boxes : h("p", { class: "muted" }, "No collections yet."));
  }).catch((error: Error) => {
    collectionsCache = null;
    replace(collectionList, h("p", { class: "error" }, `Collections could not be loaded: ${error.message}`));
  });

  rectangleButton.addEventListener("click", () => aoiTool.start("rectangle"));
  polygonButton.addEventListener("click", () => aoiTool.start("polygon"));
  clearButton.addEventListener("click", () => aoiTool.clear());
  bboxInput.addEventListener("change", () => {
    if (!bboxInput.value.trim()) {
      aoiTool.clear();
      return;
    }
    const bbox = parseBbox(bboxInput.value);
    if (!bbox) {
      bboxInput.setAttribute("aria-invalid", "true");
      aoiHint.textContent = "Give four numbers: west, south, east, north (degrees).";
      return;
    }
    aoiTool.show({ kind: "bbox", bbox });
    map.fitBounds([[bbox[1], bbox[0]], [bbox[3], bbox[2]]], { ...motion, padding: [20, 20] });
  });
  startInput.addEventListener("change", () => { state.start = startInput.value; });
  endInput.addEventListener("change", () => { state.end = endInput.value; });
  cloudInput.addEventListener("input", () => { cloudValue.textContent = `${cloudInput.value} %`; });
  cloudInput.addEventListener("change", () => { state.cloudMax = Number(cloudInput.value); run(true); });
  sortSelect.addEventListener("change", () => { state.sort = sortSelect.value; run(true); });
  mosaicToggle.addEventListener("change", () => {
    state.mosaic = mosaicToggle.checked;
    footprints.setFilled(!state.mosaic);
    void mosaic.show(state.mosaic ? mosaicSearch() : null);
  });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    state.start = startInput.value;
    state.end = endInput.value;
    run(true);
  });
  next.addEventListener("click", () => {
    state.cursors.push(next.dataset.after || null);
    run(false);
  });
  previous.addEventListener("click", () => {
    state.cursors.pop();
    run(false);
  });

  void updateCloudField();
  run(false);
}
