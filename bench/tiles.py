"""Item tiles: stacql against titiler serving the same COG, side by side.

Both servers run on this machine with the same number of uvicorn workers; titiler
(``titiler.core``'s ``TilerFactory``, from PyPI) runs from its own virtual environment
under ``bench/out/`` so that its rio-tiler does not replace ours. Each round requests the
same tiles from both, in alternating order, at the raster's native zoom and two zooms
out, at concurrency 1 and 8; the figures are medians over rounds.

    .venv/bin/python bench/tiles.py [--rounds 3] [--requests 200] [--workers 2]

It prints tiles/s and p50 per zoom and concurrency for each side, the ratio ours/titiler,
and whether the PNGs of a sample of tiles decode to identical pixels.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import morecantile
import numpy as np
import orjson
import rasterio
from rasterio.enums import Resampling
from rasterio.io import MemoryFile
from rasterio.shutil import copy as copy_raster
from rasterio.warp import transform_bounds
from rio_tiler.io import Reader

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run as a script: make bench/ importable as a package
    sys.path.insert(0, str(REPO))

from bench.servers import DATABASE, OUT, free_port, serve  # noqa: E402

STORE = OUT / "tiles-store"
STORAGE = STORE
COG = STORE / "bench" / "rgb.tif"
TITILER_VENV = OUT / "titiler-venv"
TITILER_APP = REPO / "bench" / "titiler_app.py"
TMS = morecantile.tms.get("WebMercatorQuad")
SIZE = 8192


def make_cog(path: Path) -> None:
    """An 8192 x 8192 RGB COG in UTM 16N at 1 m, with overviews (a NAIP-like tile)."""
    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(42)
    y, x = np.mgrid[0:SIZE, 0:SIZE]
    bands = [((x // 7 + y // 11 + k * 40) % 256).astype("uint8") for k in range(3)]
    noise = rng.integers(0, 30, (SIZE, SIZE), dtype=np.uint8)
    profile = {
        "driver": "GTiff", "width": SIZE, "height": SIZE, "count": 3, "dtype": "uint8",
        "crs": "EPSG:32616", "transform": rasterio.transform.from_origin(600_000, 3_400_000, 1, 1),
        "tiled": True, "blockxsize": 512, "blockysize": 512, "compress": "deflate",
        "photometric": "RGB",
    }
    with rasterio.open(path, "w", **profile) as dst:
        for index, band in enumerate(bands, start=1):
            dst.write(band + noise, index)
        dst.build_overviews([2, 4, 8, 16, 32], Resampling.average)
    # A COG: overviews written before the full-resolution data (GDAL's COG driver).
    staged = path.with_suffix(".staged.tif")
    path.rename(staged)
    with rasterio.open(staged) as src:
        copy_raster(src, path, driver="COG", compress="DEFLATE", blocksize=512)
    staged.unlink()


def ensure_titiler() -> Path:
    python = TITILER_VENV / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(TITILER_VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", "titiler.core", "uvicorn"],
                       check=True)
    return python


def load_catalog() -> None:
    """Our database with one collection and an item whose data asset is the COG."""
    env = {**os.environ, "STACQL_DATABASE_URL": DATABASE, "STACQL_STORAGE_URL": str(STORAGE)}
    stacql = [str(REPO / ".venv" / "bin" / "stacql")]
    subprocess.run([*stacql, "db", "upgrade"], check=True, env=env, capture_output=True)
    with rasterio.open(COG) as src:
        bbox = list(transform_bounds(src.crs, "EPSG:4326", *src.bounds))
    west, south, east, north = bbox
    collection = {
        "type": "Collection", "id": "bench", "stac_version": "1.1.0", "description": "tiles",
        "license": "other", "links": [],
        "extent": {"spatial": {"bbox": [bbox]}, "temporal": {"interval": [[None, None]]}},
    }
    item = {
        "type": "Feature", "stac_version": "1.1.0", "id": "rgb", "collection": "bench",
        "bbox": bbox, "links": [], "properties": {"datetime": "2024-01-01T00:00:00Z"},
        "geometry": {"type": "Polygon", "coordinates": [[[west, south], [east, south],
                                                         [east, north], [west, north],
                                                         [west, south]]]},
        "assets": {"visual": {"href": COG.resolve().as_uri(), "roles": ["visual"],
                              "type": "image/tiff; application=geotiff; profile=cloud-optimized"}},
    }
    (OUT / "tiles-collection.json").write_bytes(orjson.dumps(collection))
    (OUT / "tiles-item.json").write_bytes(orjson.dumps(item))
    subprocess.run([*stacql, "ingest", str(OUT / "tiles-collection.json"),
                    str(OUT / "tiles-item.json")], check=True, env=env, capture_output=True)



def tiles_at(zoom: int, count: int, seed: int) -> list[morecantile.Tile]:
    with rasterio.open(COG) as src:
        bounds = transform_bounds(src.crs, "EPSG:4326", *src.bounds)
    inside = list(TMS.tiles(*bounds, zooms=[zoom]))
    rng = random.Random(seed)
    return [rng.choice(inside) for _ in range(count)]


async def run(urls: list[str], concurrency: int) -> tuple[float, float, int]:
    """Requests ``urls`` with ``concurrency`` closed loops: (tiles/s, p50 ms, errors)."""
    latencies: list[float] = []
    errors = 0
    queue = list(reversed(urls))
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=60) as client:

        async def loop() -> None:
            nonlocal errors
            while queue:
                url = queue.pop()
                start = time.perf_counter()
                try:
                    response = await client.get(url)
                except httpx.TransportError:
                    errors += 1
                    continue
                latencies.append(time.perf_counter() - start)
                errors += response.status_code != 200

        started = time.perf_counter()
        await asyncio.gather(*(loop() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    p50 = statistics.median(latencies) * 1000 if latencies else float("nan")
    return len(urls) / elapsed, p50, errors


Results = dict[tuple[str, int, int], list[tuple[float, float, int]]]
"""(side, zoom, concurrency) -> (tiles/s, p50 ms, errors) of each round."""


def alternate(
    sides: dict[str, Callable[[morecantile.Tile], str]], zooms: list[int],
    tiles_for: Callable[[int, int], list[morecantile.Tile]], rounds: int,
) -> Results:
    """Every side on the same tiles (``tiles_for(zoom, round)``) at concurrency 1 and 8,
    the order of the sides alternating from round to round."""
    results: Results = {}
    for index in range(rounds):
        order = list(sides) if index % 2 == 0 else list(reversed(sides))
        for zoom in zooms:
            tiles = tiles_for(zoom, index)
            for concurrency in (1, 8):
                for name in order:
                    urls = [sides[name](t) for t in tiles]
                    results.setdefault((name, zoom, concurrency), []).append(
                        asyncio.run(run(urls, concurrency))
                    )
    return results


def print_table(results: Results, zooms: list[int], ours: str, theirs: str) -> None:
    """Medians of tiles/s and p50 per zoom and concurrency, side by side, with ratios."""
    print(f"{'zoom':>5} {'c':>2} | {ours + ' t/s':>18} {'p50 ms':>7} | "
          f"{theirs + ' t/s':>18} {'p50 ms':>7} | {'rate x':>6} {'p50 x':>6}")
    for zoom in zooms:
        for concurrency in (1, 8):
            runs = [results[(name, zoom, concurrency)] for name in (ours, theirs)]
            rate = [statistics.median(r[0] for r in side) for side in runs]
            p50 = [statistics.median(r[1] for r in side) for side in runs]
            errors = sum(r[2] for side in runs for r in side)
            print(f"{zoom:>5} {concurrency:>2} | {rate[0]:>18.1f} {p50[0]:>7.1f} | "
                  f"{rate[1]:>18.1f} {p50[1]:>7.1f} | {rate[0] / rate[1]:>6.2f} "
                  f"{p50[0] / p50[1]:>6.2f}" + (f"  errors {errors}" if errors else ""))


def differing_share(
    sides: dict[str, Callable[[morecantile.Tile], str]], tiles: list[morecantile.Tile]
) -> float:
    """The share of pixel values that differ between the two sides on ``tiles``."""
    differing = total = 0
    for tile in tiles:
        first, second = (decode(httpx.get(url(tile), timeout=120).content)
                         for url in sides.values())
        total += first.size
        differing += first.size if first.shape != second.shape else int((first != second).sum())
    return differing / total


def decode(png: bytes) -> np.ndarray:
    with MemoryFile(png) as file, file.open() as dataset:
        return dataset.read()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    make_cog(COG)
    load_catalog()
    titiler_python = ensure_titiler()
    ours_port, titiler_port = free_port(), free_port()
    ours_cmd = [str(REPO / ".venv" / "bin" / "stacql"), "serve", "--port", str(ours_port),
                "--workers", str(args.workers)]
    titiler_cmd = [str(titiler_python), "-m", "uvicorn", "titiler_app:app", "--app-dir",
                   str(TITILER_APP.parent), "--port", str(titiler_port),
                   "--workers", str(args.workers), "--log-level", "warning"]
    # PYTHONPATH: the server runs this checkout's packages, not the venv's editable install.
    env = {"STACQL_DATABASE_URL": DATABASE, "STACQL_STORAGE_URL": str(STORAGE),
           "PYTHONPATH": str(REPO)}
    with Reader(str(COG)) as reader:
        native = reader.maxzoom
    zooms = [native, native - 1, native - 2]
    with serve(ours_cmd, env, f"http://127.0.0.1:{ours_port}/") as ours, \
            serve(titiler_cmd, {}, f"http://127.0.0.1:{titiler_port}/docs") as _:
        titiler = f"http://127.0.0.1:{titiler_port}/"
        sides = {
            "stacql": lambda t: f"{ours}collections/bench/items/rgb/tiles/WebMercatorQuad/"
                                f"{t.z}/{t.x}/{t.y}.png",
            "titiler": lambda t: f"{titiler}tiles/WebMercatorQuad/{t.z}/{t.x}/{t.y}.png"
                                 f"?url={COG.resolve()}",
        }
        differing = differing_share(sides, tiles_at(native, 10, 0))
        results = alternate(
            sides, zooms, lambda zoom, index: tiles_at(zoom, args.requests, index), args.rounds
        )
    print(f"item tiles, {args.requests} requests per run, {args.rounds} rounds (medians), "
          f"{args.workers} uvicorn workers each; COG {SIZE}x{SIZE} RGB, {COG.stat().st_size:,} B")
    print_table(results, zooms, "stacql", "titiler")
    print(f"pixel values that differ on 10 native-zoom tiles: {differing:.2%}")


if __name__ == "__main__":
    main()
