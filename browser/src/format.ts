/** Human-readable values: sizes, dates, property values, links between pages. */

const UNITS = ["B", "KB", "MB", "GB", "TB"];

/** `1536` → `1.5 KB` (powers of 1024). */
export function formatBytes(bytes: number | null | undefined): string {
  if (bytes === null || bytes === undefined) return "";
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${UNITS[unit]}`;
}

/** An ISO datetime as `YYYY-MM-DD HH:MM UTC`. */
export function formatDatetime(iso: string | null | undefined): string {
  if (!iso) return "";
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  return `${date.toISOString().slice(0, 16).replace("T", " ")} UTC`;
}

/** A property value as text: scalars as they are, lists and objects as compact JSON. */
export function formatValue(value: unknown): string {
  if (value === null || value === undefined) return "";
  if (typeof value === "string") return value;
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  if (Array.isArray(value) && value.every((v) => typeof v !== "object" || v === null)) {
    return value.join(", ");
  }
  return JSON.stringify(value);
}

/** The browser's own route of an item page. */
export function itemRoute(collectionId: string, itemId: string): string {
  return `#/item/${encodeURIComponent(collectionId)}/${encodeURIComponent(itemId)}`;
}

/** One URL path segment: percent-encoded, and `.`/`..` too, which URLs would resolve away. */
function segment(value: string): string {
  return value === "." || value === ".." ? value.replaceAll(".", "%2E") : encodeURIComponent(value);
}

/** A URL of the STAC API of the same stacql, from `path` below its root. */
export function apiUrl(path: string): string {
  return new URL(`../${path}`, document.baseURI).href;
}

/** The item in the STAC API of the same stacql (`/collections/{c}/items/{i}`), or a
 * resource below it when `below` is given (`tilejson.json`). */
export function stacItemUrl(collectionId: string, itemId: string, below = ""): string {
  const path = `collections/${segment(collectionId)}/items/${segment(itemId)}`;
  return apiUrl(below ? `${path}/${below}` : path);
}

/** Whether a browser can fetch `href` (http, https or relative), unlike `file://` or `s3://`. */
export function isWebHref(href: string): boolean {
  try {
    const url = new URL(href, document.baseURI);
    return url.protocol === "http:" || url.protocol === "https:";
  } catch {
    return false;
  }
}
