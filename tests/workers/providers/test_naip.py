"""NAIP metadata records in their three forms, and items shaped like published ones."""

from __future__ import annotations

from datetime import date

import orjson
import pytest

from catalog.stac import normalize_items
from tests.support.paths import DATA, RASTERS, STAC_DATA
from workers.errors import InvalidMetadata
from workers.extract import build_item
from workers.providers.naip import NaipRecord, parse_naip_metadata
from workers.providers.processors import NaipProcessor

FGDC = DATA / "fgdc"
PUBLISHED = STAC_DATA / "pgstac/planetary-computer/data/naip/items.ndjson"
AL_2011 = "al_m_3008501_ne_16_1_20110815_20111017"

RECORDS = {
    "m_3008501_ne_16_1_20110815.txt": NaipRecord(
        date(2011, 8, 15), "al", "m_3008501_ne_16_1_20110815_20111017", 1.0, "fgdc-text"),
    # Blank lines in the lineage and no Resource_Description: the record is read, and
    # says it names no file (the processor then uses the raster's name).
    "m_3008501_ne_16_1_20110815_incorrect.txt": NaipRecord(
        date(2011, 8, 15), "al", None, 1.0, "fgdc-text"),
    "m_4207201_ne_18_h_20160809.txt": NaipRecord(
        date(2016, 8, 9), "vt", None, None, "fgdc-text"),
    "m_3211605_ne_11_060_20200415_20200730.xml": NaipRecord(
        date(2020, 4, 15), "ca", "m_3211605_ne_11_060_20200415", 0.6, "fgdc-xml"),
    # ISO: the date comes from the file identifier, not the template temporal extent.
    "m_3610332_se_13_060_20200903_20201204.xml": NaipRecord(
        date(2020, 9, 3), "tx", "m_3610332_se_13_060_20200903", 0.6, "iso-xml"),
    "m_4208701_ne_16_060_20200902_20201202.xml": NaipRecord(
        date(2020, 9, 2), "wi", "m_4208701_ne_16_060_20200902", None, "iso-xml"),
}


def published(item_id: str) -> dict:
    for line in PUBLISHED.open("rb"):
        doc = orjson.loads(line)
        if doc["id"] == item_id:
            return doc
    raise AssertionError(item_id)


@pytest.mark.parametrize("name", sorted(RECORDS))
def test_each_metadata_record_is_read(name: str) -> None:
    assert parse_naip_metadata((FGDC / name).read_bytes()) == RECORDS[name]


def test_every_shared_fgdc_file_has_an_expected_record() -> None:
    assert sorted(p.name for p in FGDC.iterdir()) == sorted(RECORDS)


def test_a_record_without_a_state_is_refused() -> None:
    record = (FGDC / "m_3008501_ne_16_1_20110815.txt").read_bytes()
    text = record.replace(b"Place_Keyword: AL", b"Place_Keyword: Nowhere")
    with pytest.raises(InvalidMetadata, match="no place keyword names a US state"):
        parse_naip_metadata(text)


def test_xml_of_another_standard_is_refused() -> None:
    with pytest.raises(InvalidMetadata, match="neither FGDC nor ISO"):
        parse_naip_metadata(b"<isd><IMD/></isd>")


def _naip_item(metadata: str, raster: str = "m_3008501_ne_16_1_20110815.tif") -> dict:
    provided = NaipProcessor().describe(raster, (FGDC / metadata).read_bytes())
    return build_item(RASTERS / "naip" / raster, "naip", provider_metadata=provided)


def test_the_item_matches_the_published_naip_item() -> None:
    ours, theirs = _naip_item("m_3008501_ne_16_1_20110815.txt"), published(AL_2011)
    assert ours["id"] == theirs["id"] == AL_2011
    for name in ("datetime", "gsd", "naip:state", "naip:year"):
        assert ours["properties"][name] == theirs["properties"][name], name
    # The 2011 item predates providers on items; later published items carry this one.
    later = published("al_m_3008501_ne_16_030_20211103")
    assert ours["properties"]["providers"] == later["properties"]["providers"]
    assert ours["assets"]["image"]["eo:bands"] == theirs["assets"]["image"]["eo:bands"]
    assert ours["assets"]["image"]["title"] == theirs["assets"]["image"]["title"]


def test_the_item_lies_where_the_published_one_does() -> None:
    ours, theirs = _naip_item("m_3008501_ne_16_1_20110815.txt"), published(AL_2011)
    assert ours["bbox"] == pytest.approx(theirs["bbox"], abs=1e-3)


def test_a_record_without_a_resource_name_takes_the_raster_name() -> None:
    item = _naip_item("m_3008501_ne_16_1_20110815_incorrect.txt")
    assert item["id"] == "al_m_3008501_ne_16_1_20110815"


def test_a_naip_item_from_an_iso_record_is_accepted_by_the_catalog() -> None:
    item = _naip_item(
        "m_4208701_ne_16_060_20200902_20201202.xml", "m_4208701_ne_16_060_20200902.tif"
    )
    record = normalize_items([item])[0]
    assert (record.id, item["properties"]["gsd"]) == ("wi_m_4208701_ne_16_060_20200902", 0.6)


def test_a_naip_raster_without_its_record_is_refused() -> None:
    with pytest.raises(InvalidMetadata, match="needs the scene's FGDC or ISO metadata"):
        NaipProcessor().describe("m_3008501_ne_16_1_20110815.tif", None)
