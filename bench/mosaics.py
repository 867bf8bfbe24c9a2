"""Mosaic tiles of a 100-item search: stacql against titiler-pgstac over pgstac.

Both catalogs hold the same 100 items, each with a small RGB COG (a 10 x 10 grid of
overlapping cells, later items newer), and both mosaic the same search (the collection,
newest on top). titiler-pgstac (PyPI) runs with pypgstac 0.10 (the peer's version) from
its own virtual environment under ``bench/out/``, with its defaults (its cache on), over
a pgstac database on the same PostgreSQL. Each round requests the same random tiles from
both at zooms 8 to 12, in alternating order, at concurrency 1 and 8; medians over rounds.

    .venv/bin/python bench/mosaics.py [--rounds 3] [--requests 100] [--workers 2]
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
from pathlib import Path

import httpx
import morecantile
import numpy as np
import orjson
import rasterio

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run as a script: make bench/ importable as a package
    sys.path.insert(0, str(REPO))

from bench.servers import DATABASE, OUT, free_port, serve  # noqa: E402
from bench.tiles import alternate, differing_share, print_table  # noqa: E402

STORE = OUT / "mosaic-store"
VENV = OUT / "titiler-pgstac-venv"
PGSTAC_DB = "stacql_bench_pgstac_mosaic"
COLLECTION = "mosaicbench"
GRID, CELL, SIZE = 10, 0.05, 512
ORIGIN = (10.0, 50.0)
ZOOMS = (8, 9, 10, 11, 12)
TMS = morecantile.tms.get("WebMercatorQuad")


def _cell_bounds(row: int, col: int) -> tuple[float, float, float, float]:
    # Cells overlap their neighbours by 10%, so "newest on top" decides some pixels.
    west, south = ORIGIN[0] + col * CELL, ORIGIN[1] + row * CELL
    pad = CELL * 0.1
    return west - pad, south - pad, west + CELL + pad, south + CELL + pad


def make_items() -> list[dict]:
    """Write the 100 COGs (once) and return their items."""
    items = []
    rng = np.random.default_rng(3)
    for index in range(GRID * GRID):
        row, col = divmod(index, GRID)
        bounds = _cell_bounds(row, col)
        path = STORE / COLLECTION / f"cell_{index:03d}.tif"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            data = rng.integers(1, 255, (3, SIZE, SIZE), dtype=np.uint8)
            profile = {"driver": "COG", "width": SIZE, "height": SIZE, "count": 3,
                       "dtype": "uint8", "crs": "EPSG:4326", "nodata": 0,
                       "transform": rasterio.transform.from_bounds(*bounds, SIZE, SIZE),
                       "compress": "deflate", "blocksize": 256}
            with rasterio.open(path, "w", **profile) as dst:
                dst.write(data)
        west, south, east, north = bounds
        items.append({
            "type": "Feature", "stac_version": "1.1.0", "id": f"cell_{index:03d}",
            "collection": COLLECTION, "bbox": list(bounds), "links": [],
            "geometry": {"type": "Polygon", "coordinates": [[[west, south], [east, south],
                                                             [east, north], [west, north],
                                                             [west, south]]]},
            "properties": {"datetime": f"2024-01-01T00:{index // 60:02d}:{index % 60:02d}Z"},
            "assets": {"visual": {"href": path.resolve().as_uri(), "roles": ["visual"],
                                  "type": "image/tiff; application=geotiff; "
                                          "profile=cloud-optimized"}},
        })
    return items


def collection() -> dict:
    west, south = _cell_bounds(0, 0)[:2]
    east, north = _cell_bounds(GRID - 1, GRID - 1)[2:]
    return {"type": "Collection", "id": COLLECTION, "stac_version": "1.1.0",
            "description": "mosaic bench", "license": "other", "links": [],
            "extent": {"spatial": {"bbox": [[west, south, east, north]]},
                       "temporal": {"interval": [[None, None]]}}}


def load_both(items: list[dict]) -> None:
    (OUT / "mosaic-collection.json").write_bytes(orjson.dumps(collection()))
    ndjson = OUT / "mosaic-items.ndjson"
    ndjson.write_bytes(b"\n".join(orjson.dumps(item) for item in items) + b"\n")
    env = {**os.environ, "STACQL_DATABASE_URL": DATABASE, "STACQL_STORAGE_URL": str(STORE)}
    stacql = str(REPO / ".venv" / "bin" / "stacql")
    subprocess.run([stacql, "db", "upgrade"], check=True, env=env, capture_output=True)
    subprocess.run([stacql, "ingest", str(OUT / "mosaic-collection.json"), str(ndjson)],
                   check=True, env=env, capture_output=True)
    subprocess.run(["dropdb", "-h", "127.0.0.1", "-U", "root", "--if-exists", "--force", PGSTAC_DB],
                   check=True)
    subprocess.run(["createdb", "-h", "127.0.0.1", "-U", "root", PGSTAC_DB], check=True)
    pypgstac = str(VENV / "bin" / "pypgstac")
    dsn = f"postgresql://root@127.0.0.1:5432/{PGSTAC_DB}"
    subprocess.run([pypgstac, "migrate", "--dsn", dsn], check=True, capture_output=True)
    subprocess.run([pypgstac, "load", "collections", str(OUT / "mosaic-collection.json"),
                    "--dsn", dsn, "--method", "upsert"], check=True, capture_output=True)
    subprocess.run([pypgstac, "load", "items", str(ndjson), "--dsn", dsn, "--method",
                    "upsert"], check=True, capture_output=True)


def ensure_venv() -> None:
    if not (VENV / "bin" / "python").exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        subprocess.run([str(VENV / "bin" / "pip"), "install", "-q", "titiler.pgstac",
                        "psycopg[binary,pool]", "pypgstac[psycopg]==0.10.0", "uvicorn"],
                       check=True)


def sample_tiles(zoom: int, count: int, seed: int) -> list[morecantile.Tile]:
    west, south = ORIGIN
    east, north = west + GRID * CELL, south + GRID * CELL
    inside = list(TMS.tiles(west, south, east, north, zooms=[zoom]))
    rng = random.Random(seed)
    return [rng.choice(inside) for _ in range(count)]


def compared_tiles(zoom: int) -> list[morecantile.Tile]:
    """The tiles whose pixels are compared: all the search covers at this zoom when
    they are few (zooms 8 and 9), else 8 of them at random."""
    west, south = ORIGIN
    inside = list(TMS.tiles(west, south, west + GRID * CELL, south + GRID * CELL, zooms=[zoom]))
    return inside if len(inside) <= 16 else random.Random(99).sample(inside, 8)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--zooms", type=lambda v: [int(z) for z in v.split(",")],
                        default=list(ZOOMS))
    args = parser.parse_args()
    zooms = args.zooms
    ensure_venv()
    load_both(make_items())
    ours_port, theirs_port = free_port(), free_port()
    ours_cmd = [str(REPO / ".venv" / "bin" / "stacql"), "serve", "--port", str(ours_port),
                "--workers", str(args.workers)]
    theirs_cmd = [str(VENV / "bin" / "python"), "-m", "uvicorn", "titiler.pgstac.main:app",
                  "--port", str(theirs_port), "--workers", str(args.workers),
                  "--log-level", "warning"]
    # PYTHONPATH: the server runs this checkout's packages, not the venv's editable install.
    ours_env = {"STACQL_DATABASE_URL": DATABASE, "STACQL_STORAGE_URL": str(STORE),
                "PYTHONPATH": str(REPO)}
    theirs_env = {"DATABASE_URL": f"postgresql://root@127.0.0.1:5432/{PGSTAC_DB}"}
    search = {"collections": [COLLECTION]}
    with serve(ours_cmd, ours_env, f"http://127.0.0.1:{ours_port}/") as ours, \
            serve(theirs_cmd, theirs_env, f"http://127.0.0.1:{theirs_port}/healthz") as _:
        theirs = f"http://127.0.0.1:{theirs_port}/"
        ours_id = httpx.post(f"{ours}mosaics", json=search).json()["id"]
        theirs_id = httpx.post(f"{theirs}searches/register", json=search).json()["id"]
        sides = {
            "stacql": lambda t: f"{ours}mosaics/{ours_id}/tiles/WebMercatorQuad/"
                                f"{t.z}/{t.x}/{t.y}.png",
            "titiler-pgstac": lambda t: f"{theirs}searches/{theirs_id}/tiles/WebMercatorQuad/"
                                        f"{t.z}/{t.x}/{t.y}.png?assets=visual",
        }
        compared = {zoom: compared_tiles(zoom) for zoom in zooms}
        differing = {zoom: differing_share(sides, tiles) for zoom, tiles in compared.items()}
        results = alternate(
            sides, zooms, lambda zoom, index: sample_tiles(zoom, args.requests, index),
            args.rounds,
        )
    print(f"mosaic tiles of a {GRID * GRID}-item search, {args.requests} requests per run, "
          f"{args.rounds} rounds (medians), {args.workers} uvicorn workers each")
    print_table(results, zooms, "stacql", "titiler-pgstac")
    shares = ", ".join(f"z{zoom} {share:.2%} of {len(compared[zoom])} tiles"
                       for zoom, share in differing.items())
    print(f"pixel values that differ: {shares}")


if __name__ == "__main__":
    main()
