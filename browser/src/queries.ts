/** The GraphQL documents the browser sends (all in one place, to see what it depends on). */

export const COLLECTIONS = `query Collections($after: String) {
  collections(first: 200, after: $after) {
    pageInfo { hasNextPage endCursor }
    nodes { id title extent { spatial { bbox } } }
  }
}`;

export const HAS_PROPERTY = `query HasProperty($collections: [String!], $property: String!) {
  aggregate(match: {collections: $collections}) { histogram(property: $property, buckets: 1) { count } }
}`;

export const SEARCH = `query Search($collections: [String!], $bbox: [Float!], $intersects: GeoJSON,
    $datetime: DatetimeRange, $where: [PropertyCondition!], $sortBy: [SortBy!],
    $first: Int, $after: String) {
  items(match: {collections: $collections, bbox: $bbox, intersects: $intersects,
                datetime: $datetime, where: $where},
        sortBy: $sortBy, first: $first, after: $after) {
    totalCount
    pageInfo { hasNextPage endCursor }
    nodes {
      id collectionId datetime geometry
      cloud: property(name: "eo:cloud_cover")
      thumbnails: assets(roles: ["thumbnail"]) { href }
    }
  }
}`;

export const ITEM = `query Item($collectionId: String!, $id: String!) {
  item(collectionId: $collectionId, id: $id) {
    id collectionId datetime geometry properties stac
    collection { title }
    assets { key href title roles mediaType size }
  }
}`;

export const UPLOAD = `mutation Upload($file: Upload!, $sidecar: Upload, $collectionId: String!,
    $datetime: DateTime) {
  uploadAsset(file: $file, sidecar: $sidecar, collectionId: $collectionId, datetime: $datetime) {
    id status progress
  }
}`;

export const JOB = `subscription Job($id: ID!) {
  job(id: $id) { id status progress message error item { id collectionId } }
}`;

export interface CollectionSummary {
  id: string;
  title: string | null;
  extent: { spatial: { bbox: number[][] } };
}

export interface ItemSummary {
  id: string;
  collectionId: string;
  datetime: string;
  geometry: GeoJSON.Geometry | null;
  cloud: number | null;
  thumbnails: { href: string }[];
}

export interface ItemPage {
  totalCount: number;
  pageInfo: { hasNextPage: boolean; endCursor: string | null };
  nodes: ItemSummary[];
}

export interface AssetDetail {
  key: string;
  href: string;
  title: string | null;
  roles: string[];
  mediaType: string | null;
  size: number | null;
}

export interface ItemDetail {
  id: string;
  collectionId: string;
  datetime: string;
  geometry: GeoJSON.Geometry | null;
  properties: Record<string, unknown>;
  stac: Record<string, unknown>;
  collection: { title: string | null } | null;
  assets: AssetDetail[];
}

export interface JobState {
  id: string;
  status: "QUEUED" | "STARTED" | "FINISHED" | "FAILED";
  progress: number;
  message: string | null;
  error: string | null;
  item: { id: string; collectionId: string } | null;
}

/** Every collection, following the cursor. */
export async function allCollections(
  gql: <T>(q: string, v?: Record<string, unknown>) => Promise<T>,
): Promise<CollectionSummary[]> {
  const found: CollectionSummary[] = [];
  let after: string | null = null;
  for (;;) {
    const data: { collections: { pageInfo: { hasNextPage: boolean; endCursor: string | null }; nodes: CollectionSummary[] } } =
      await gql(COLLECTIONS, { after });
    found.push(...data.collections.nodes);
    if (!data.collections.pageInfo.hasNextPage) return found;
    after = data.collections.pageInfo.endCursor;
  }
}
