"""Where the shared test data lives (``../shared`` beside the repository)."""

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared"
DATA = SHARED / "data"
STAC_DATA = DATA / "stac"
RASTERS = DATA / "rasters"
