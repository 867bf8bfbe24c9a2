// GraphiQL for stacql's GraphQL API, bundled with its editor (Monaco) and the editor's
// workers so the page needs nothing from outside the stacql serving it.
import { createGraphiQLFetcher } from "@graphiql/toolkit";
import { GraphiQL } from "graphiql";
import "graphiql/style.css";
import { createElement } from "react";
import { createRoot } from "react-dom/client";

// The page lives in /browse/graphiql/ (or is shown at /graphql with that folder as its
// base), so the API is two levels up from the base, under any root path.
const endpoint = new URL("../../graphql", document.baseURI);
const socket = new URL(endpoint);
socket.protocol = endpoint.protocol === "https:" ? "wss:" : "ws:";

// Monaco asks for a worker per language; each is a bundle of its own beside this one.
const workers: Record<string, string> = { json: "json.worker.js", graphql: "graphql.worker.js" };
(globalThis as { MonacoEnvironment?: unknown }).MonacoEnvironment = {
  getWorker(_id: string, label: string): Worker {
    return new Worker(new URL(workers[label] ?? "editor.worker.js", import.meta.url));
  },
};

const fetcher = createGraphiQLFetcher({ url: endpoint.href, subscriptionUrl: socket.href });
const root = document.getElementById("graphiql");
if (root) {
  root.removeAttribute("aria-busy");
  root.textContent = "";
  createRoot(root).render(createElement(GraphiQL, { fetcher }));
}
