"""Raster → STAC item: rasters per second and peak memory, ours vs rio-stac.

    .venv/bin/python bench/extract.py [--repeat 3] [--sets shared,large,accuracy]

Two file sets: every raster of ``../shared/data/rasters`` and one generated COG of at
least 20,000 x 20,000 pixels (made once, cached in ``/tmp/stacql-bench``). Each tool runs
each set in a fresh subprocess, which reports its wall time per file and its peak
resident memory (``ru_maxrss``), also taken right after the imports. Tools alternate,
back to back, ``--repeat`` times; the table shows medians. Rates count only the files
both tools turned into items, so both are timed on the same work.

The ``accuracy`` set prints, for every shared raster we turn into an item, how far the
default footprint (reduced resolution) is from the footprint of a full scan of every
pixel traced on the same cells (``workers.extract.accuracy``): geodesic area of their
symmetric difference / area of the full scan's footprint.

* ``ours-upload``: ``workers.extract.extract`` as the worker runs an upload's job (GDAL
  drivers limited to ``SAFE_DRIVERS``; footprint, statistics and thumbnail from one
  reduced-resolution read, block index check, thumbnail), with the SHA-256
  ``file:checksum`` the API computed while the upload streamed in (computed before the
  timing; its cost is printed below the table);
* ``ours``: the same hashing the file itself with SHA-256 (a file over 8 MiB read 1 MiB
  at a time into one buffer, in a thread while GDAL reads), as folder ingests and watchers run it
  the first time (a later job on the unchanged file finds its checksum in Redis:
  ``workers.checksum_cache``); ``--tools ...,ours-blake3`` adds the same with a BLAKE3
  checksum over every CPU (``STACQL_WORKERS_CHECKSUM=blake3``);
* ``rio-stac``: ``rio_stac.create_stac_item`` with the projection, raster (statistics)
  and eo extensions, on its defaults otherwise.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # this checkout's packages, not an installed copy's
SHARED_RASTERS = REPO.parent / "shared" / "data" / "rasters"
RASTER_SUFFIXES = {".tif", ".tiff", ".cog", ".jp2"}
WHEN = datetime(2020, 1, 1, tzinfo=UTC)
TOOLS = ("ours-upload", "ours", "rio-stac")
OPTIONAL_TOOLS = ("ours-blake3",)


def shared_rasters() -> list[Path]:
    """Every raster file of the shared data, in path order."""
    return sorted(
        p for p in SHARED_RASTERS.rglob("*") if p.is_file() and p.suffix.lower() in RASTER_SUFFIXES
    )


def _pattern(rows: slice, size: int) -> Any:
    """Three uint8 bands of smooth terrain-like values with a little noise; 0 (nodata)
    outside a diamond, so the valid footprint is not the raster's rectangle."""
    import numpy as np

    y, x = np.mgrid[rows, 0:size].astype(np.float32) / size
    base = 90 + 60 * np.sin(x * 23.0) * np.cos(y * 17.0) + 40 * np.sin((x + y) * 61.0)
    noise = np.random.default_rng(rows.start).integers(0, 12, size=base.shape)
    bands = np.stack([base + noise, base * 0.8 + noise, base * 0.6 + 20]).clip(1, 255)
    outside = np.abs(x - 0.5) + np.abs(y - 0.5) > 0.5
    bands[:, outside] = 0
    return bands.astype(np.uint8)


def ensure_large_cog(path: Path, size: int) -> Path:
    """A ``size`` x ``size`` 3-band COG (deflate, 512 px tiles, overviews) at ``path``,
    written once: a tiled GeoTIFF in row strips, then GDAL's COG driver."""
    if path.exists():
        return path
    import rasterio
    from rasterio.shutil import copy as rio_copy
    from rasterio.transform import from_origin
    from rasterio.windows import Window

    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.with_suffix(".staging.tif")
    profile = {
        "driver": "GTiff", "width": size, "height": size, "count": 3, "dtype": "uint8",
        "nodata": 0, "crs": "EPSG:32616", "transform": from_origin(500_000, 3_500_000, 0.6, 0.6),
        "tiled": True, "blockxsize": 512, "blockysize": 512, "compress": "deflate",
        "zlevel": 1, "bigtiff": "yes",
    }
    started = time.perf_counter()
    with rasterio.open(staging, "w", **profile) as ds:
        for top in range(0, size, 1024):
            rows = slice(top, min(top + 1024, size))
            ds.write(_pattern(rows, size), window=Window(0, top, size, rows.stop - top))
    rio_copy(staging, path, driver="COG", compress="DEFLATE", blocksize=512,
             overview_resampling="average", num_threads="ALL_CPUS", bigtiff="YES")
    staging.unlink()
    print(f"generated {path} ({size} x {size} x 3, {path.stat().st_size / 1e6:.0f} MB) "
          f"in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    return path


def generated(path: Path, size: int) -> Path:
    """The large COG, generated in a subprocess when missing: Linux keeps a process's
    peak RSS across ``exec``, so a parent grown large would inflate its children's."""
    if not path.exists():
        subprocess.run([sys.executable, __file__, "--generate", str(path), str(size)],
                       cwd=REPO, check=True)
    return path


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _received(files: list[str]) -> tuple[dict[str, Any], float]:
    """The checksum of each file as the API computes it while an upload streams in
    (1 MiB chunks), and the seconds that hashing took (spent in the API, not the job)."""
    from catalog.checksums import Multihash
    from workers.extract.files import KnownChecksum

    known, started = {}, time.perf_counter()
    for path in files:
        digest = Multihash()
        with open(path, "rb") as file:
            while chunk := file.read(1024 * 1024):
                digest.update(chunk)
        known[path] = KnownChecksum(digest.size, digest.hexdigest())
    return known, time.perf_counter() - started


def run_child(tool: str, files: list[str]) -> dict[str, Any]:
    """Run ``tool`` on ``files`` in this process; per-file seconds and outcome, RSS."""
    receipt = None
    if tool.startswith("ours"):
        from workers.extract import SAFE_DRIVERS, ExtractOptions, extract

        checksum = "blake3" if tool == "ours-blake3" else "sha2-256"
        options = ExtractOptions(allowed_drivers=SAFE_DRIVERS, checksum=checksum)
        known: dict[str, Any] = {}
        if tool == "ours-upload":
            known, receipt = _received(files)

        def one(path: str) -> None:
            extract(path, "bench", datetime=WHEN, thumbnail=True, options=options,
                    known_checksum=known.get(path))
    else:
        from rio_stac import create_stac_item

        def one(path: str) -> None:
            create_stac_item(path, input_datetime=WHEN, with_proj=True, with_raster=True,
                             with_eo=True).to_dict()

    import_mb = _rss_mb()
    per_file = []
    for path in files:
        started, cpu = time.perf_counter(), time.process_time()
        try:
            one(path)
            ok, error = True, None
        except Exception as exc:  # the bench reports failures, it does not judge them
            ok, error = False, f"{type(exc).__name__}: {str(exc)[:120]}"
        per_file.append({"path": path, "seconds": time.perf_counter() - started, "ok": ok,
                         "cpu": time.process_time() - cpu, "error": error})
    return {"import_mb": import_mb, "peak_mb": _rss_mb(), "files": per_file,
            "receipt_seconds": receipt}


def measure(tool: str, files: list[Path]) -> dict[str, Any]:
    """One subprocess run of ``tool`` over ``files``."""
    out = subprocess.run(
        [sys.executable, __file__, "--child", tool, json.dumps([str(f) for f in files])],
        cwd=REPO, capture_output=True, text=True, check=True,
    )
    return json.loads(out.stdout)


def summarize(name: str, runs: dict[str, list[dict[str, Any]]]) -> list[str]:
    """Table rows of one file set: medians over the repeats."""
    both = set.intersection(*(
        {f["path"] for f in runs[tool][0]["files"] if f["ok"]} for tool in runs
    ))
    rows = []
    for tool in runs:
        seconds = [sum(f["seconds"] for f in run["files"] if f["path"] in both)
                   for run in runs[tool]]
        cpu = [sum(f["cpu"] for f in run["files"] if f["path"] in both) for run in runs[tool]]
        ok = sum(f["ok"] for f in runs[tool][0]["files"])
        total = len(runs[tool][0]["files"])
        median_s = statistics.median(seconds)
        rate = len(both) / median_s if median_s else float("nan")
        rows.append(
            f"{name:<8} {tool:<11} {ok:>3}/{total:<3} {len(both):>5} {median_s:>9.2f} "
            f"{rate:>10.2f} {statistics.median(cpu):>7.2f} "
            f"{statistics.median(r['peak_mb'] for r in runs[tool]):>9.0f} "
            f"{statistics.median(r['import_mb'] for r in runs[tool]):>9.0f}"
        )
    return rows


def receipt_note(name: str, runs: dict[str, list[dict[str, Any]]]) -> list[str]:
    """What hashing the files as they are received costs the API (ours-upload)."""
    seconds = [r["receipt_seconds"] for r in runs.get("ours-upload", [])]
    if not seconds:
        return []
    return [f"{name}: SHA-256 of the files as the API receives them (ours-upload, not in its "
            f"rate): {statistics.median(seconds):.2f} s"]


def failures(runs: dict[str, list[dict[str, Any]]]) -> list[str]:
    """Files a tool could not turn into an item (first run), with the reason."""
    lines = []
    for tool in ("ours", "rio-stac"):  # the other ours refuse what ours refuses
        for f in runs[tool][0]["files"]:
            if not f["ok"]:
                lines.append(f"  {tool}: {Path(f['path']).name}: {f['error']}")
    return ["not turned into items:", *lines] if lines else []


def accuracy() -> list[str]:
    """Per shared raster: symmetric difference of the reduced-resolution and the
    full-scan footprints (same cells), as a share of the latter's geodesic area."""
    import rasterio

    from workers.extract.accuracy import footprint_error

    rows = [f"{'raster':<60} {'cell px':>8} {'sym. diff':>10}"]
    for path in shared_rasters():
        try:
            with rasterio.open(path) as ds:
                error, cell = footprint_error(ds)
        except Exception:  # refused: nothing to compare
            continue
        rows.append(f"{path.name[:60]:<60} {cell:>8.2f} {100 * error:>9.3f}%")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--sets", default="shared,large")
    parser.add_argument("--large-size", type=int, default=20_000)
    parser.add_argument("--tools", default=",".join(TOOLS),
                        help=f"of {', '.join(TOOLS + OPTIONAL_TOOLS)}; ours and rio-stac always")
    parser.add_argument("--large-path", type=Path, default=None)
    parser.add_argument("--child", nargs=2, metavar=("TOOL", "FILES"), help=argparse.SUPPRESS)
    parser.add_argument("--generate", nargs=2, metavar=("PATH", "SIZE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_child(args.child[0], json.loads(args.child[1]))))
        return
    if args.generate:
        ensure_large_cog(Path(args.generate[0]), int(args.generate[1]))
        return
    large = args.large_path or Path(f"/tmp/stacql-bench/large-cog-{args.large_size}.tif")
    sets = {"shared": shared_rasters, "large": lambda: [generated(large, args.large_size)]}
    header = (f"{'set':<8} {'tool':<11} {'ok':>7} {'files':>5} {'seconds':>9} {'rasters/s':>10} "
              f"{'cpu s':>7} {'peak MB':>9} {'base MB':>9}")
    table, notes = [header, "-" * len(header)], []
    for name in args.sets.split(","):
        if name == "accuracy":
            notes += ["", "footprint accuracy (reduced resolution vs full scan):", *accuracy()]
            continue
        files = sets[name]()
        tools = list(dict.fromkeys([*args.tools.split(","), "ours", "rio-stac"]))
        runs: dict[str, list[dict[str, Any]]] = {tool: [] for tool in tools}
        for _ in range(args.repeat):
            for tool in tools:
                runs[tool].append(measure(tool, files))
        table += summarize(name, runs)
        notes += receipt_note(name, runs) + failures(runs)
    print("\n".join(table))
    print("\nfiles = files both tools turned into items (the rates count only those); "
          "cpu s = CPU time of the process on them (all threads; steadier than wall time "
          "on a loaded machine); peak MB = max RSS of the run; base MB = RSS after imports")
    if notes:
        print("\n".join(notes))


if __name__ == "__main__":
    main()
