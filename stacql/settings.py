"""All configuration of stacql, read once from ``STACQL_*`` environment variables.

Groups map to prefixes: ``STACQL_DATABASE_URL``, ``STACQL_DATABASE_POOL_SIZE``,
``STACQL_REDIS_URL``, ``STACQL_STORAGE_URL``, ``STACQL_API_PORT``... Defaults work on one
machine with PostgreSQL and Redis on localhost.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class DatabaseSettings(BaseModel):
    """PostgreSQL + PostGIS connection."""

    url: str = "postgresql+asyncpg://root@127.0.0.1:5432/stacql"
    pool_size: int = Field(10, ge=1)
    statement_timeout_ms: int = Field(30_000, ge=0)
    # Starting parallel workers costs more than an indexed page query takes, and under
    # concurrent requests they only compete for the same cores; None keeps the server's.
    parallel_workers_per_gather: int | None = Field(0, ge=0)
    # Testing each pooled connection before use costs a round trip per request; a
    # connection the server dropped fails one request and the pool then reconnects.
    pool_pre_ping: bool = False
    # Hot standbys (asyncpg URLs) that serve reads; none: everything on the primary.
    # A JSON list or comma-separated URLs.
    replica_urls: Annotated[list[str], NoDecode] = []
    # A standby whose replay is further behind the primary leaves the rotation.
    replica_max_lag_seconds: float = Field(2.0, gt=0)
    # Interval of the health and lag checks, and the time one check may take.
    replica_check_seconds: float = Field(0.5, gt=0)
    replica_check_timeout_seconds: float = Field(1.0, gt=0)

    @field_validator("replica_urls", mode="before")
    @classmethod
    def _split_urls(cls, value: Any) -> Any:
        if isinstance(value, str):
            if value.lstrip().startswith("["):
                return json.loads(value)
            return [url.strip() for url in value.split(",") if url.strip()]
        return value


class RedisSettings(BaseModel):
    """Redis, the job queue's broker."""

    url: str = "redis://127.0.0.1:6379/0"


class StorageSettings(BaseModel):
    """Where uploaded assets are kept: a local folder or an object-store URL."""

    url: str = "var/assets"
    # obstore configuration of an object store (endpoint, region, credentials...).
    options: dict[str, Any] = {}


class AssetSettings(BaseModel):
    """How clients reach stored assets."""

    # Lifetime of signed asset URLs (grants in ?token= and object-store presigned URLs).
    url_ttl_seconds: int = Field(3600, ge=1, le=7 * 24 * 3600)
    # Signs asset URLs; empty: a secret kept in the database, shared by every process.
    signing_secret: SecretStr | None = None
    # Object stores: send clients to presigned URLs rather than stream through the API.
    sign_object_urls: bool = True
    # Local store behind nginx: the prefix of an internal location aliasing the store
    # (/_store/); the API checks access and nginx sends the bytes (X-Accel-Redirect).
    accel_redirect: str | None = None


class ApiSettings(BaseModel):
    """The HTTP service."""

    host: str = "127.0.0.1"
    port: int = 8080
    # uvicorn worker processes of `stacql serve`: one per core by default, since a
    # process runs its Python on one core at a time.
    workers: int = Field(default_factory=lambda: os.cpu_count() or 1, ge=1)
    root_path: str = ""
    # One log line per request from uvicorn (`stacql serve`); off behind a proxy that logs.
    access_log: bool = True
    # The URL clients reach the service at (links, asset hrefs); empty: the request's host.
    public_url: str | None = None
    # Honour Forwarded / X-Forwarded-* (only behind a proxy that sets them).
    trust_forwarded: bool = False
    max_limit: int = Field(10_000, ge=1)
    max_body_bytes: int = Field(50 * 1024 * 1024, ge=1024)
    # numberMatched without count=true on a full first page: counted within this time and
    # up to this many matches, else left out. Off by default: at 1M items such counts ran
    # out of time on most spatial searches and halved throughput (bench/README, counts).
    count_budget_ms: int = Field(0, ge=0)
    count_max_rows: int = Field(10_000, ge=0)
    # Plain searches answered without FastAPI's dependency solving (stac_compat/
    # plain_search.py); false: every request through its route, same answers, slower.
    plain_searches: bool = True
    # Searches' uses of item properties (filters, sorts) are counted and written to the
    # property_usage table this often (`stacql db property-usage`); 0: not counted.
    usage_flush_seconds: float = Field(60.0, ge=0)


class GraphQLSettings(BaseModel):
    """The GraphQL API's guards."""

    default_page_size: int = Field(10, ge=1)
    max_page_size: int = Field(1000, ge=1)
    max_depth: int = Field(12, ge=2)
    max_aliases: int = Field(30, ge=1)
    max_tokens: int = Field(5000, ge=100)
    # After fragment expansion; the cost weighs each field by the pages above it.
    max_fields: int = Field(1000, ge=10)
    max_cost: int = Field(200_000, ge=10)
    # Entries a list of objects without a size argument counts for (an item's assets).
    assumed_list_size: int = Field(10, ge=1)
    # Every response carries its cost in extensions.cost (else only when the request's
    # extensions ask with {"cost": true}).
    report_cost: bool = False
    # Each statement is bounded by the statement timeout, not how many an operation runs.
    max_statements: int = Field(20, ge=1)
    max_upload_bytes: int = Field(2 * 1024**3, ge=1024)
    max_upload_pixels: int = Field(50_000 * 50_000, ge=1)
    # Plain leaf fields resolved in one step (graphql_api/execution.py); false: through
    # graphql-core's per-field path, same answers, slower (to compare them).
    leaf_shortcut: bool = True
    # Automatic persisted queries (hash -> query, in Redis, shared by every worker):
    # a query longer than this is run but not stored; stored queries expire this long
    # after their last use; past this many, the least recently used are dropped.
    apq_max_query_bytes: int = Field(16_384, ge=256)
    apq_ttl_seconds: int = Field(7 * 24 * 3600, ge=1)
    apq_max_entries: int = Field(20_000, ge=1)
    # Cache-Control max-age of GET answers to anonymous queries (0: caches revalidate
    # each time, with the ETag); answers to callers with credentials are never shared.
    get_max_age_seconds: int = Field(60, ge=0)


class AuthSettings(BaseModel):
    """Bearer JWTs from an OIDC issuer (API keys need no settings)."""

    jwks: str | None = None
    audience: str = "stacql"
    issuer: str | None = None


class FetchSettings(BaseModel):
    """Server-side fetches of caller-given URLs (``ingestCatalog(href)``)."""

    allowed_hosts: list[str] = []
    allow_private: bool = False
    local_roots: list[str] = []


class NotifySettings(BaseModel):
    """Webhook notices of saved searches (sent by the workers; target URLs obey the fetch
    settings: set ``STACQL_FETCH_ALLOW_PRIVATE`` to reach private or loopback hosts)."""

    # Seconds before each retry of a failed delivery; the last one repeats.
    retry_intervals: list[float] = Field([5, 30, 120, 600, 1800], min_length=1)
    # Attempts in all before a notice is given up (``failed`` in the delivery log).
    max_attempts: int = Field(8, ge=1)
    timeout_seconds: float = Field(10.0, gt=0)
    # How often a `stacql worker` looks for written items to match against saved
    # searches (0: this worker does not; another one must).
    poll_seconds: float = Field(1.0, ge=0)


class WorkerSettings(BaseModel):
    """RQ workers."""

    queues: list[str] = ["stacql"]
    # Uploads that are not cloud-optimized get a COG beside them, which the item points to.
    convert_to_cog: bool = True
    # Raster extraction (workers.extract.ExtractOptions): longest side in pixels of the
    # reduced-resolution read statistics, footprint and thumbnail come from, and of the
    # grid footprints are traced on; full_scan decodes every pixel for the footprint
    # (slower; finds damage anywhere in a file); the hash of file:checksum (also what the
    # API hashes uploads with as they arrive); the decoded bytes within which the
    # uncertain blocks of a thin or speckled footprint are read again at full resolution.
    sample_size: int = Field(1024, ge=16)
    footprint_size: int = Field(512, ge=16)
    full_scan: bool = False
    checksum: Literal["sha2-256", "blake3"] = "sha2-256"
    refine_bytes: int = Field(256 * 1024 * 1024, ge=0)
    # Days a checksum a job computed is kept in Redis, for the same stored file ingested
    # again unchanged (workers.checksum_cache); 0: not kept.
    checksum_cache_days: int = Field(30, ge=0)


class ExportSettings(BaseModel):
    """Export files (``/exports``, ``exportItems``)."""

    # Seconds a finished export's file is kept; then the workers remove it and its
    # download answers 410 Gone (0: kept for ever).
    retention_seconds: int = Field(7 * 24 * 3600, ge=0)
    # Seconds between two sweeps of expired files by each worker (0: files are removed
    # only when the next export runs).
    sweep_seconds: int = Field(600, ge=0)


class IngestSettings(BaseModel):
    """Bulk loading."""

    batch_size: int = Field(5_000, ge=1)
    # How long `stacql ingest` waits for an unavailable database before it stops (the
    # backoff's delays that fit; 0 stops at the first failure).
    retry_seconds: float = Field(30.5, ge=0)


def default_browser_dir() -> Path:
    """The built browser: ``browser/dist`` of a checkout (``npm run build`` writes it there),
    else the copy an installed wheel carries in ``stacql/browser`` (build_browser.py)."""
    package = Path(__file__).resolve().parent
    checkout = package.parent / "browser"
    if (checkout / "package.json").is_file():
        return checkout / "dist"
    return package / "browser"


class BrowserSettings(BaseModel):
    """The catalog browser page served at ``/browse`` (built from ``browser/``)."""

    dir: Path = Field(default_factory=default_browser_dir)


class Settings(BaseSettings):
    """stacql settings; nested groups read ``STACQL_<GROUP>_<FIELD>``."""

    model_config = SettingsConfigDict(
        env_prefix="STACQL_",
        env_nested_delimiter="_",
        env_nested_max_split=1,
        extra="ignore",
    )

    database: DatabaseSettings = DatabaseSettings()
    redis: RedisSettings = RedisSettings()
    storage: StorageSettings = StorageSettings()
    assets: AssetSettings = AssetSettings()
    api: ApiSettings = ApiSettings()
    graphql: GraphQLSettings = GraphQLSettings()
    auth: AuthSettings = AuthSettings()
    fetch: FetchSettings = FetchSettings()
    ingest: IngestSettings = IngestSettings()
    workers: WorkerSettings = WorkerSettings()
    notify: NotifySettings = NotifySettings()
    exports: ExportSettings = ExportSettings()
    browser: BrowserSettings = BrowserSettings()
