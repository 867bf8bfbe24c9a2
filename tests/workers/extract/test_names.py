"""Acquisition times from well-known file-name conventions: every pattern of the
registry, with real product names, and names that must not match."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from workers.extract.names import CONVENTIONS, datetime_from_name

EXAMPLES = [
    # NAIP: acquisition date, then (on newer tiles) the publication date.
    ("m_3008501_ne_16_1_20110815.tif", "NAIP", datetime(2011, 8, 15, tzinfo=UTC)),
    ("al_m_3008506_nw_16_060_20231002_20231127.tif", "NAIP", datetime(2023, 10, 2, tzinfo=UTC)),
    ("m_3610332_se_13_060_20200903-downsampled.tif", "NAIP", datetime(2020, 9, 3, tzinfo=UTC)),
    ("LC08_L1TP_026027_20200110_20200114_01_T1.tif", "Landsat product id",
     datetime(2020, 1, 10, tzinfo=UTC)),
    ("LC08_L2SP_026027_20200110_20200823_02_T1_SR_B4.TIF", "Landsat product id",
     datetime(2020, 1, 10, tzinfo=UTC)),
    ("LE07_L1TP_016041_19990715_20161003_01_T1_B1.TIF", "Landsat product id",
     datetime(1999, 7, 15, tzinfo=UTC)),
    # Scene ids count days of the year: day 10 of 2020, day 366 of leap year 2016.
    ("LC80260272020010LGN00_B4.TIF", "Landsat scene id", datetime(2020, 1, 10, tzinfo=UTC)),
    ("LC80260272016366LGN01.tif", "Landsat scene id", datetime(2016, 12, 31, tzinfo=UTC)),
    ("S1A_IW_GRDH_1SDV_20230101T053001_20230101T053026_046578_059501_5E12.tif",
     "Sentinel-1 product", datetime(2023, 1, 1, 5, 30, 1, tzinfo=UTC)),
    ("S1B_IW_SLC__1SDV_20190102T101010_20190102T101037_014309_01AA0B_3C7A.tiff",
     "Sentinel-1 product", datetime(2019, 1, 2, 10, 10, 10, tzinfo=UTC)),
    ("s1a-iw-grd-vv-20230101t053001-20230101t053026-046578-059501-001.tiff",
     "Sentinel-1 measurement", datetime(2023, 1, 1, 5, 30, 1, tzinfo=UTC)),
    ("S2A_MSIL2A_20220722T105631_N0400_R094_T31TCN_20220722T171159.tif",
     "Sentinel-2 product", datetime(2022, 7, 22, 10, 56, 31, tzinfo=UTC)),
    ("T31TCN_20220722T105631_B02_10m.jp2", "Sentinel-2 granule image",
     datetime(2022, 7, 22, 10, 56, 31, tzinfo=UTC)),
    ("S2B_10TFK_20210713_0_L2A_B04.tif", "Sentinel-2 COG scene",
     datetime(2021, 7, 13, tzinfo=UTC)),
    # ASTER writes month, day, year: 05/03/2000 04:04:46.
    ("AST_L1T_00305032000040446_20150409135350_78838.SWIR.SIMPLIFIED.tif", "ASTER",
     datetime(2000, 5, 3, 4, 4, 46, tzinfo=UTC)),
    ("MOD09GA.A2020032.h08v05.061.2020034033024.tif", "MODIS/VIIRS",
     datetime(2020, 2, 1, tzinfo=UTC)),
]

NOT_ACQUISITION_TIMES = [
    # The older Sentinel-2 granule name carries only its processing time.
    "S2A_OPER_MSI_L2A_TL_ATOS_20220620T162319_A036527_T32TLS_N04.00_R60m_B01.jp2",
    "LC08_LST_crop.tif",
    "scene_20200101.tif",  # a date, but no convention says it is the acquisition's
    "m_3008501_ne_16_1_20111315.tif",  # NAIP's shape, but month 13
    "LC80260272019366LGN00.tif",  # day 366 of a common year
    "xm_3008501_ne_16_1_20110815.tif",  # the convention must start the name or a part
]


@pytest.mark.parametrize(("name", "convention", "expected"), EXAMPLES)
def test_a_conventional_name_gives_its_acquisition_time(
    name: str, convention: str, expected: datetime
) -> None:
    assert datetime_from_name(name) == (expected, convention)


@pytest.mark.parametrize("name", NOT_ACQUISITION_TIMES)
def test_other_names_give_no_time(name: str) -> None:
    assert datetime_from_name(name) is None


def test_every_convention_has_an_example() -> None:
    assert {c.name for c in CONVENTIONS} == {convention for _, convention, _ in EXAMPLES}
