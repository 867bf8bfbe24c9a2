// Bundles src/ into dist/ (the folder stacql serves at /browse): one script, one
// stylesheet, the page and the offline basemap. Nothing is fetched at run time from
// anywhere but the stacql that serves the page.
import { copyFile, mkdir, rm } from "node:fs/promises";
import { build } from "esbuild";

const out = "dist";
await rm(out, { recursive: true, force: true });
await mkdir(out, { recursive: true });
await build({
  entryPoints: { app: "src/main.ts", style: "src/style.css" },
  bundle: true,
  minify: true,
  sourcemap: true,
  format: "esm",
  target: ["es2022"],
  outdir: out,
  loader: { ".png": "file", ".svg": "file" },
  assetNames: "assets/[name]-[hash]",
  logLevel: "warning",
});
await copyFile("src/index.html", `${out}/index.html`);
// Natural Earth 1:50m country outlines (world-atlas), fetched by the page as its basemap.
await copyFile("node_modules/world-atlas/countries-50m.json", `${out}/countries-50m.json`);
