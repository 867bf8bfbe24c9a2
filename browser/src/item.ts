/**
 * The item page: footprint (over the item's imagery when it has a stored raster),
 * properties as a table, assets with roles, sizes and download links, the STAC JSON, and
 * the same item in the STAC API.
 */

import type * as L from "leaflet";
import { gql } from "./api";
import { h, replace } from "./dom";
import { formatBytes, formatDatetime, formatValue, isWebHref, stacItemUrl } from "./format";
import { hasStoredRaster, type ImageryState, showItemImagery } from "./imagery";
import { createMap, Footprints, motion } from "./map";
import { type AssetDetail, ITEM, type ItemDetail } from "./queries";

function propertiesTable(properties: Record<string, unknown>): HTMLElement {
  const rows = Object.keys(properties).sort().map((name) =>
    h("tr", {}, h("th", { scope: "row" }, name), h("td", {}, formatValue(properties[name]))));
  return h("table", { class: "properties" },
    h("caption", {}, "Properties"),
    h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Name"), h("th", { scope: "col" }, "Value"))),
    h("tbody", {}, rows));
}

function assetLink(asset: AssetDetail): HTMLElement {
  if (isWebHref(asset.href)) {
    return h("a", { href: asset.href, download: "", rel: "noopener" }, "Download");
  }
  // file://, s3://...: not something a browser can fetch; show where it is.
  return h("code", { class: "href", title: "Not served over HTTP" }, asset.href);
}

function assetsTable(assets: AssetDetail[]): HTMLElement {
  const rows = assets.map((asset) =>
    h("tr", { "data-asset-key": asset.key },
      h("th", { scope: "row" }, asset.key, asset.title ? h("div", { class: "muted" }, asset.title) : null),
      h("td", { "data-label": "Roles" }, asset.roles.join(", ")),
      h("td", { "data-label": "Media type" }, asset.mediaType ?? ""),
      h("td", { class: "number", "data-label": "Size" }, formatBytes(asset.size)),
      h("td", { "data-label": "Link" }, assetLink(asset))));
  return h("table", { class: "assets" },
    h("caption", {}, "Assets"),
    h("thead", {}, h("tr", {}, ["Key", "Roles", "Media type", "Size", "Link"].map((c) => h("th", { scope: "col" }, c)))),
    h("tbody", {}, rows.length ? rows : h("tr", {}, h("td", { colspan: 5 }, "No assets."))));
}

/** Render the page of one item into `root`. */
export async function renderItem(root: HTMLElement, collectionId: string, itemId: string): Promise<void> {
  replace(root, h("p", { class: "status", role: "status" }, "Loading…"));
  let item: ItemDetail | null;
  try {
    item = (await gql<{ item: ItemDetail | null }>(ITEM, { collectionId, id: itemId })).item;
  } catch (error) {
    replace(root, h("div", { class: "page" }, h("p", { class: "error", role: "alert" }, `The item could not be loaded: ${(error as Error).message}`)));
    return;
  }
  if (!item) {
    replace(root, h("div", { class: "page" },
      h("h1", {}, "No such item"),
      h("p", { role: "alert" }, `There is no item ${itemId} in collection ${collectionId}.`),
      h("p", {}, h("a", { href: "#/" }, "Back to the search"))));
    return;
  }
  const mapElement = h("div", { class: "map item-map", "aria-label": "Footprint" });
  const thumbnail = item.assets.find((a) => a.roles.includes("thumbnail") && isWebHref(a.href));
  replace(root, h("article", { class: "page item-page" },
    h("p", {}, h("a", { href: "#/" }, "← Back to the search")),
    h("h1", {}, item.id),
    h("p", { class: "muted" },
      `${item.collection?.title || item.collectionId} · ${formatDatetime(item.datetime)} · `,
      h("a", { href: stacItemUrl(item.collectionId, item.id), class: "stac-link" }, "This item in the STAC API")),
    h("div", { class: "item-top" }, mapElement,
      thumbnail ? h("img", { class: "preview", src: thumbnail.href, alt: `Preview of ${item.id}` }) : null),
    assetsTable(item.assets),
    propertiesTable(item.properties),
    h("details", { class: "stac-json" },
      h("summary", {}, "STAC JSON"),
      h("pre", { tabindex: "0" }, JSON.stringify(item.stac, null, 2)))));
  const map = createMap(mapElement);
  const footprint = new Footprints(map);
  footprint.show([{ key: item.id, geometry: item.geometry, label: null }]);
  footprint.select(item.id);
  const bounds = footprint.bounds();
  if (bounds) map.fitBounds(bounds, { ...motion, maxZoom: 11, padding: [40, 40] });
  if (hasStoredRaster(item.assets)) void showImagery(mapElement, map, footprint, item);
}

/** The item's raster under its footprint; the map's `data-imagery` says how it went. */
async function showImagery(
  mapElement: HTMLElement, map: L.Map, footprint: Footprints, item: ItemDetail,
): Promise<void> {
  const report = (state: ImageryState) => {
    mapElement.dataset.imagery = state;
  };
  try {
    if (!(await showItemImagery(map, item.collectionId, item.id, report))) return;
  } catch {
    report("error"); // the footprint alone still says where the item is
    return;
  }
  mapElement.setAttribute("aria-label", "Footprint over the item's imagery");
  footprint.setFilled(false);
}
