"""Acquisition times carried by well-known file-name conventions.

Each convention is a pattern that matches the product or scene name anywhere in a file
name (so ``al_m_3008506_nw_16_060_20231002_20231127.tif`` or a Landsat band file
``LC08_L2SP_026027_20200110_20200823_02_T1_SR_B4.TIF`` match) and says which of its
dates is the acquisition time; names whose only date is a processing date (Sentinel-2's
older ``S2A_OPER_..._TL_...`` granule names) are deliberately absent. Dates alone are
read as midnight UTC; every time is UTC, as the conventions define them.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta


@dataclass(frozen=True)
class NamingConvention:
    """A family of file names and how to read the acquisition time out of a match."""

    name: str
    pattern: re.Pattern[str]
    read: Callable[[re.Match[str]], datetime]


def _compact(text: str) -> datetime:
    """``YYYYMMDD`` or ``YYYYMMDDTHHMMSS`` (any case) as UTC."""
    layout = "%Y%m%dT%H%M%S" if len(text) > 8 else "%Y%m%d"
    return datetime.strptime(text.upper(), layout).replace(tzinfo=UTC)


def _day_of_year(year: str, day: str) -> datetime:
    start = datetime(int(year), 1, 1, tzinfo=UTC)
    if not 1 <= int(day) <= (366 if start.year % 4 == 0 else 365):
        raise ValueError(f"day of year {day} out of range")
    return start + timedelta(days=int(day) - 1)


def _aster(match: re.Match[str]) -> datetime:
    # MMDDYYYYhhmmss: ASTER names put the month and day first.
    text = match.group(1)
    return datetime.strptime(text[4:8] + text[:4] + text[8:], "%Y%m%d%H%M%S").replace(tzinfo=UTC)


_START = r"(?<![A-Za-z0-9])"  # a convention's name starts the file name or follows a separator

NAIP_NAME = re.compile(
    _START + r"m_(?P<quad>\d{7})_(?P<quarter>ne|nw|se|sw)_(?P<zone>\d{1,2})_(?P<res>[a-z0-9]+?)_"
    r"(?P<date>\d{8})(?:_(?P<published>\d{8}))?(?!\d)",
    re.IGNORECASE,
)
"""The NAIP file naming convention: quadrangle, quarter, UTM zone, resolution code,
acquisition date and, on some, the publication date."""

def _dated(name: str, pattern: str, flags: int = 0) -> NamingConvention:
    """A convention whose first group is a compact date or date-time."""
    return NamingConvention(
        name, re.compile(_START + pattern, flags), lambda m: _compact(m.group(1))
    )


def _day_numbered(name: str, pattern: str) -> NamingConvention:
    """A convention whose first two groups are a year and a day of the year."""
    return NamingConvention(
        name, re.compile(_START + pattern), lambda m: _day_of_year(m.group(1), m.group(2))
    )


CONVENTIONS: tuple[NamingConvention, ...] = (
    NamingConvention("NAIP", NAIP_NAME, lambda m: _compact(m.group("date"))),
    # Collection product id: LXSS_LLLL_PPPRRR_<acquired>_<processed>_CC_TX
    _dated(
        "Landsat product id", r"L[COTEM]0\d_L[0-9][A-Z0-9]{2}_\d{6}_(\d{8})_\d{8}_\d{2}_[A-Z0-9]{2}"
    ),
    # Pre-collection scene id: LXSPPPRRRYYYYDDDGSIVV
    _day_numbered(
        "Landsat scene id", r"L[COTEM]\d\d{6}(\d{4})(\d{3})[A-Z]{3}\d{2}(?![A-Za-z0-9])"
    ),
    # MMM_BB_TTTR_LFPP_<start>_<stop>_<orbit>_<take>_<crc>
    _dated(
        "Sentinel-1 product",
        r"S1[A-D]_[A-Z0-9]{2}_[A-Z]{3}[A-Z_]_\d[A-Z]{3}_"
        r"(\d{8}T\d{6})_\d{8}T\d{6}_\d{6}_[0-9A-F]{6}",
    ),
    # s1a-iw-grd-vv-<start>-<stop>-<orbit>-<take>-<image>: measurement files of a SAFE
    _dated(
        "Sentinel-1 measurement",
        r"s1[a-d]-[a-z0-9]{2,3}-(?:slc|grd|ocn)-[hv]{2}-"
        r"(\d{8}t\d{6})-\d{8}t\d{6}-\d{6}-[0-9a-f]{6}",
    ),
    # MMM_MSIXXX_<sensing start>_Nxxyy_ROOO_Txxxxx_<product discriminator>
    _dated(
        "Sentinel-2 product", r"S2[A-D]_MSIL[12][AC]_(\d{8}T\d{6})_N\d{4}_R\d{3}_T\d{2}[A-Z]{3}"
    ),
    # T<tile>_<sensing start>_<band>[_<resolution>]: image files of a SAFE granule
    _dated(
        "Sentinel-2 granule image", r"T\d{2}[A-Z]{3}_(\d{8}T\d{6})_(?:B\d[0-9A]|TCI|AOT|WVP|SCL)"
    ),
    # S2B_10TFK_20210713_0_L2A: scene ids of the Sentinel-2 COGs on AWS
    _dated("Sentinel-2 COG scene", r"S2[A-D]_\d{1,2}[A-Z]{3}_(\d{8})_\d+_L[12][AC]"),
    # AST_<level>_<version><acquired MMDDYYYYhhmmss>_<processed>_<id>
    NamingConvention(
        "ASTER", re.compile(_START + r"AST_[A-Z0-9]{2,4}_\d{3}(\d{14})_\d{14}"), _aster
    ),
    # <product>.AYYYYDDD.<tile>.<collection>...: MODIS and VIIRS land products
    _day_numbered("MODIS/VIIRS", r"(?:MOD|MYD|MCD|VNP|VJ1)\w*\.A(\d{4})(\d{3})\."),
)
"""The registry, tried in order; the first convention whose pattern matches and
whose date is a real one wins."""


def datetime_from_name(file_name: str) -> tuple[datetime, str] | None:
    """The acquisition time a file name carries by a known convention, with the
    convention's name; None when no convention matches."""
    for convention in CONVENTIONS:
        match = convention.pattern.search(file_name)
        if match is None:
            continue
        try:
            return convention.read(match), convention.name
        except ValueError:  # the right shape but not a date (month 13): not this one
            continue
    return None


def convention_names() -> list[str]:
    """The registry's convention names, in order (for messages)."""
    return [c.name for c in CONVENTIONS]
