/**
 * The stacql GraphQL API, the page's only data source: queries over HTTP, uploads as
 * GraphQL multipart requests, job progress over graphql-transport-ws. URLs are relative
 * to the page, so stacql behind a path prefix works unchanged.
 */

import { createClient, type Client } from "graphql-ws";

const KEY_STORAGE = "stacql.apiKey";

/** The endpoint, next to /browse/. */
export function graphqlUrl(): string {
  return new URL("../graphql", document.baseURI).href;
}

/** A GraphQL error as the API reports it (`extensions.code` such as BAD_USER_INPUT). */
export class GraphQLRequestError extends Error {
  constructor(
    message: string,
    readonly code: string | null = null,
  ) {
    super(message);
    this.name = "GraphQLRequestError";
  }
}

interface GraphQLBody<T> {
  data?: T | null;
  errors?: { message: string; extensions?: { code?: string } }[];
}

/** The write key kept in this browser (empty when none). */
export function apiKey(): string {
  return localStorage.getItem(KEY_STORAGE) ?? "";
}

export function setApiKey(key: string): void {
  if (key) localStorage.setItem(KEY_STORAGE, key);
  else localStorage.removeItem(KEY_STORAGE);
}

/** Headers carrying the key both ways the service will accept it. */
export function keyHeaders(): Record<string, string> {
  const key = apiKey();
  return key ? { Authorization: `Bearer ${key}`, "X-API-Key": key } : {};
}

function unwrap<T>(status: number, body: GraphQLBody<T> | null): T {
  const error = body?.errors?.[0];
  if (error) throw new GraphQLRequestError(error.message, error.extensions?.code ?? null);
  if (!body?.data) throw new GraphQLRequestError(`the service answered HTTP ${status} without data`);
  return body.data;
}

/** Run a query or mutation; throws `GraphQLRequestError` with the API's first error. */
export async function gql<T>(query: string, variables: Record<string, unknown> = {}): Promise<T> {
  let response: Response;
  try {
    response = await fetch(graphqlUrl(), {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json", ...keyHeaders() },
      body: JSON.stringify({ query, variables }),
    });
  } catch {
    throw new GraphQLRequestError("the service cannot be reached");
  }
  const body = (await response.json().catch(() => null)) as GraphQLBody<T> | null;
  return unwrap(response.status, body);
}

/**
 * Post a mutation with files (GraphQL multipart request spec): `files` maps variable
 * names to files. `onProgress` gets the fraction of the body sent.
 */
export function gqlUpload<T>(
  query: string,
  variables: Record<string, unknown>,
  files: Record<string, File>,
  onProgress: (fraction: number) => void,
): Promise<T> {
  const names = Object.keys(files);
  const operations = { query, variables: { ...variables, ...Object.fromEntries(names.map((n) => [n, null])) } };
  const form = new FormData();
  form.append("operations", JSON.stringify(operations));
  form.append("map", JSON.stringify(Object.fromEntries(names.map((n, i) => [String(i), [`variables.${n}`]]))));
  names.forEach((name, i) => form.append(String(i), files[name], files[name].name));
  return new Promise((resolve, reject) => {
    const request = new XMLHttpRequest();
    request.open("POST", graphqlUrl());
    for (const [header, value] of Object.entries(keyHeaders())) request.setRequestHeader(header, value);
    request.responseType = "json";
    request.upload.onprogress = (event) => {
      if (event.lengthComputable) onProgress(event.loaded / event.total);
    };
    request.onerror = () => reject(new GraphQLRequestError("the upload could not reach the service"));
    request.onload = () => {
      try {
        resolve(unwrap(request.status, request.response as GraphQLBody<T> | null));
      } catch (error) {
        reject(error);
      }
    };
    request.send(form);
  });
}

let wsClient: Client | null = null;

function subscriptions(): Client {
  if (!wsClient) {
    const url = new URL(graphqlUrl());
    url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    wsClient = createClient({
      url: url.href,
      lazy: true,
      // WebSockets cannot carry headers; the key goes in the connection_init payload.
      connectionParams: () => keyHeaders(),
    });
  }
  return wsClient;
}

/** Subscribe; returns a function that ends the subscription. */
export function subscribe<T>(
  query: string,
  variables: Record<string, unknown>,
  handlers: { next: (data: T) => void; error: (error: Error) => void; complete: () => void },
): () => void {
  return subscriptions().subscribe<T>(
    { query, variables },
    {
      next: (result) => {
        if (result.errors?.length) handlers.error(new GraphQLRequestError(result.errors[0].message));
        else if (result.data) handlers.next(result.data as T);
      },
      error: (error) =>
        handlers.error(error instanceof Error ? error : new GraphQLRequestError("the job feed closed")),
      complete: handlers.complete,
    },
  );
}
