/**
 * The upload page: GeoTIFFs (each with an optional FGDC sidecar of the same name) dropped
 * into a collection are sent with `uploadAsset`; each file's bar follows the upload, then
 * its job through the `job` subscription, and ends with a link to the new item.
 */

import { apiKey, gql, gqlUpload, setApiKey, subscribe } from "./api";
import { h, replace } from "./dom";
import { formatBytes, itemRoute } from "./format";
import { allCollections, JOB, type JobState, UPLOAD } from "./queries";

const RASTER = /\.tiff?$/i;
const SIDECAR = /\.(txt|xml)$/i;
const TIFF_MAGIC = ["49492a00", "4d4d002a", "49492b00", "4d4d002b"]; // II*, MM*, BigTIFF

interface Pair {
  raster: File;
  sidecar: File | null;
}

function stem(name: string): string {
  return name.replace(/\.[^.]+$/, "").toLowerCase();
}

async function isTiff(file: File): Promise<boolean> {
  const bytes = new Uint8Array(await file.slice(0, 4).arrayBuffer());
  return TIFF_MAGIC.includes([...bytes].map((b) => b.toString(16).padStart(2, "0")).join(""));
}

/** Pair rasters with their sidecars; everything else is rejected with the reason. */
async function sortFiles(files: File[]): Promise<{ pairs: Pair[]; rejected: [string, string][] }> {
  const rejected: [string, string][] = [];
  const rasters: File[] = [];
  const sidecars = new Map<string, File>();
  for (const file of files) {
    if (RASTER.test(file.name)) {
      if (file.size === 0) rejected.push([file.name, "the file is empty"]);
      else if (!(await isTiff(file))) rejected.push([file.name, "not a TIFF file (its first bytes are not a TIFF header)"]);
      else rasters.push(file);
    } else if (SIDECAR.test(file.name)) {
      sidecars.set(stem(file.name), file);
    } else {
      rejected.push([file.name, "not a GeoTIFF (.tif, .tiff) or an FGDC metadata sidecar (.txt, .xml)"]);
    }
  }
  const pairs = rasters.map((raster) => {
    const sidecar = sidecars.get(stem(raster.name)) ?? null;
    sidecars.delete(stem(raster.name));
    return { raster, sidecar };
  });
  for (const orphan of sidecars.values()) {
    rejected.push([orphan.name, "a metadata sidecar needs its GeoTIFF (same name, .tif) in the same drop"]);
  }
  return { pairs, rejected };
}

/** Render the upload page into `root`. */
export function renderUpload(root: HTMLElement): void {
  const collectionSelect = h("select", { id: "upload-collection", name: "collection", required: true },
    h("option", { value: "" }, "Loading collections…"));
  const keyInput = h("input", {
    id: "api-key", type: "password", name: "key", autocomplete: "off", value: apiKey(),
    placeholder: "not needed yet",
  });
  const dateInput = h("input", { id: "upload-datetime", type: "date", name: "datetime" });
  const fileInput = h("input", {
    id: "upload-files", type: "file", multiple: true, accept: ".tif,.tiff,.txt,.xml", class: "visually-hidden",
  });
  const zone = h("div", { class: "drop-zone" },
    h("p", {}, "Drop GeoTIFFs here, each with its FGDC sidecar (same name, .txt or .xml) if it has one."),
    h("label", { for: "upload-files", class: "button" }, "Choose files…"), fileInput);
  const messages = h("ul", { class: "messages", "aria-live": "polite" });
  const list = h("ul", { class: "uploads", "aria-label": "Uploads" });

  replace(root, h("div", { class: "page upload-page" },
    h("h1", {}, "Upload rasters"),
    h("p", { class: "muted" }, "Each GeoTIFF becomes an item of the collection once a worker has read it."),
    h("div", { class: "upload-form" },
      h("div", { class: "field" }, h("label", { for: "upload-collection" }, "Collection"), collectionSelect),
      h("div", { class: "field" }, h("label", { for: "api-key" }, "Write key (optional, kept in this browser)"), keyInput),
      h("div", { class: "field" },
        h("label", { for: "upload-datetime" }, "Acquisition date, for rasters whose metadata has none (optional)"),
        dateInput)),
    zone, messages, list));

  allCollections(gql).then((collections) => {
    replace(collectionSelect,
      h("option", { value: "" }, collections.length ? "Choose a collection" : "No collections yet"),
      collections.map((c) => h("option", { value: c.id }, c.title ? `${c.title} (${c.id})` : c.id)));
  }).catch((error: Error) => {
    replace(collectionSelect, h("option", { value: "" }, "Collections could not be loaded"));
    messages.append(h("li", { class: "error" }, `Collections could not be loaded: ${error.message}`));
  });
  keyInput.addEventListener("change", () => setApiKey(keyInput.value.trim()));

  async function accept(files: File[]): Promise<void> {
    replace(messages);
    if (!files.length) return;
    if (!collectionSelect.value) {
      messages.append(h("li", { class: "error", role: "alert" }, "Choose a collection before adding files."));
      collectionSelect.focus();
      return;
    }
    const { pairs, rejected } = await sortFiles(files);
    for (const [name, reason] of rejected) {
      messages.append(h("li", { class: "error", "data-rejected": name }, `${name} was not uploaded: ${reason}.`));
    }
    const datetime = dateInput.value ? `${dateInput.value}T00:00:00Z` : null;
    for (const pair of pairs) startUpload(pair, collectionSelect.value, datetime);
  }

  function startUpload(pair: Pair, collectionId: string, datetime: string | null): void {
    const bar = h("progress", { max: 1, value: 0, "aria-label": `Progress of ${pair.raster.name}` });
    const state = h("span", { class: "state" }, "uploading");
    const outcome = h("div", { class: "outcome" });
    const row = h("li", { class: "upload", "data-file": pair.raster.name },
      h("div", { class: "name" }, pair.raster.name, h("span", { class: "muted" },
        ` ${formatBytes(pair.raster.size)}`, pair.sidecar ? ` + ${pair.sidecar.name}` : "")),
      bar, state, outcome);
    list.prepend(row);
    const files: Record<string, File> = { file: pair.raster };
    if (pair.sidecar) files.sidecar = pair.sidecar;
    const fail = (message: string) => {
      row.dataset.status = "FAILED";
      state.textContent = "failed";
      replace(outcome, h("p", { class: "error", role: "alert" }, message));
    };
    gqlUpload<{ uploadAsset: JobState }>(UPLOAD, { collectionId, datetime }, files, (fraction) => {
      bar.value = fraction;
      state.textContent = `uploading ${Math.round(fraction * 100)} %`;
    }).then(({ uploadAsset: job }) => {
      bar.value = 0;
      followJob(job, row, bar, state, outcome, fail);
    }).catch((error: Error) => fail(`${pair.raster.name} was refused: ${error.message}`));
  }

  function followJob(
    job: JobState, row: HTMLElement, bar: HTMLProgressElement, state: HTMLElement, outcome: HTMLElement,
    fail: (message: string) => void,
  ): void {
    row.dataset.job = job.id;
    row.dataset.status = job.status;
    state.textContent = "queued for processing";
    const stop = subscribe<{ job: JobState }>(JOB, { id: job.id }, {
      next: ({ job: now }) => {
        row.dataset.status = now.status;
        bar.value = now.progress;
        state.textContent = now.status === "STARTED" ? `processing ${Math.round(now.progress * 100)} %`
          : now.status === "QUEUED" ? "queued for processing" : now.status.toLowerCase();
        if (now.status === "FINISHED") {
          bar.value = 1;
          stop();
          replace(outcome, now.item
            ? h("a", { href: itemRoute(now.item.collectionId, now.item.id), class: "item-link" }, `Open item ${now.item.id}`)
            : h("p", {}, "Done."));
        } else if (now.status === "FAILED") {
          stop();
          fail(now.error || now.message || "the job failed");
        }
      },
      error: (error) => fail(`Progress is not available: ${error.message}`),
      complete: () => {},
    });
  }

  fileInput.addEventListener("change", () => {
    void accept([...(fileInput.files ?? [])]);
    fileInput.value = "";
  });
  zone.addEventListener("dragover", (event) => {
    event.preventDefault();
    zone.classList.add("over");
  });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    zone.classList.remove("over");
    void accept([...(event.dataTransfer?.files ?? [])]);
  });
}
