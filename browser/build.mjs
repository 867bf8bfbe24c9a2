// Bundles src/ into dist/ (the folder stacql serves at /browse): one script, one
// stylesheet, the page and the offline basemap; and GraphiQL (src/graphiql/) into
// dist/graphiql/, which stacql also shows at /graphql. Nothing is fetched at run time
// from anywhere but the stacql that serves the pages.
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

// GraphiQL: its page, script and styles, and the Monaco editor's workers as classic
// worker scripts (GraphiQL's own setup loads them from a CDN or through a bundler's
// worker loader; main.ts points Monaco at these files instead).
const graphiql = `${out}/graphiql`;
const production = { "process.env.NODE_ENV": '"production"' };
await build({
  entryPoints: { graphiql: "src/graphiql/main.ts" },
  bundle: true,
  minify: true,
  format: "esm",
  target: ["es2022"],
  outdir: graphiql,
  define: production,
  loader: { ".ttf": "file", ".woff": "file", ".woff2": "file" },
  assetNames: "assets/[name]-[hash]",
  logLevel: "warning",
});
await build({
  entryPoints: {
    "editor.worker": "node_modules/monaco-editor/esm/vs/editor/editor.worker.js",
    "json.worker": "node_modules/monaco-editor/esm/vs/language/json/json.worker.js",
    "graphql.worker": "node_modules/monaco-graphql/esm/graphql.worker.js",
  },
  bundle: true,
  minify: true,
  format: "iife",
  target: ["es2022"],
  outdir: graphiql,
  define: production,
  logLevel: "warning",
});
await copyFile("src/graphiql/index.html", `${graphiql}/index.html`);
