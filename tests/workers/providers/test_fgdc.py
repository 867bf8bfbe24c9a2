"""FGDC text records and safe XML parsing."""

from __future__ import annotations

import pytest

from tests.support.paths import DATA
from workers.errors import InvalidMetadata
from workers.providers.fgdc import fgdc_text, fgdc_values, parse_fgdc_text, parse_xml

FGDC = DATA / "fgdc"
DATE = ("Identification_Information", "Time_Period_of_Content", "Time_Period_Information",
        "Single_Date/Time", "Calendar_Date")
BOUNDS = ("Identification_Information", "Spatial_Domain", "Bounding_Coordinates")


def _text(name: str) -> str:
    # newline="": keep the file's mixed CR / LF / CRLF line endings for the parser.
    return (FGDC / name).open(newline="").read()


def test_nested_names_of_a_text_record_are_read() -> None:
    tree = parse_fgdc_text(_text("m_3008501_ne_16_1_20110815.txt"))
    assert fgdc_text(tree, DATE) == "20110815"
    assert fgdc_text(tree, (*BOUNDS, "West_Bounding_Coordinate")) == "-85.9375"


def test_repeated_names_keep_every_value_in_order() -> None:
    tree = parse_fgdc_text(_text("m_3008501_ne_16_1_20110815.txt"))
    places = fgdc_values(tree, ("Identification_Information", "Keywords", "Place", "Place_Keyword"))
    assert places[:3] == ["AL", "Geneva", "01061"]


def test_a_free_text_block_is_joined_into_one_value() -> None:
    tree = parse_fgdc_text(_text("m_3008501_ne_16_1_20110815.txt"))
    abstract = fgdc_text(tree, ("Identification_Information", "Description", "Abstract"))
    assert abstract.startswith("This data set contains imagery from the National Agriculture")
    assert "\n" not in abstract


def test_blank_lines_inside_a_text_block_are_tolerated() -> None:
    tree = parse_fgdc_text(_text("m_3008501_ne_16_1_20110815_incorrect.txt"))
    steps = fgdc_values(tree, ("Data_Quality_Information", "Lineage", "Process_Step",
                               "Process_Description"))
    assert len(steps) == 1 and "Digital frames captured" in steps[0]


def test_a_text_record_cut_short_keeps_what_it_has() -> None:
    tree = parse_fgdc_text(_text("m_4207201_ne_18_h_20160809.txt"))
    assert fgdc_text(tree, DATE) == "20160809"


def test_text_that_is_not_a_record_is_refused() -> None:
    with pytest.raises(InvalidMetadata, match="does not start with 'Metadata:'"):
        parse_fgdc_text("hello: world\n")


def test_a_stray_line_where_a_name_is_expected_is_refused_with_its_number() -> None:
    with pytest.raises(InvalidMetadata, match="line 4"):
        parse_fgdc_text("Metadata:\n  Section:\n    Name: x\n  stray words here\n")


def test_xml_entity_expansion_is_refused() -> None:
    bomb = (b'<?xml version="1.0"?><!DOCTYPE m [<!ENTITY a "aaaaaaaaaa">'
            b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]><metadata>&b;</metadata>')
    with pytest.raises(InvalidMetadata, match="refused"):
        parse_xml(bomb)


def test_xml_external_entities_are_refused() -> None:
    hostile = (b'<?xml version="1.0"?><!DOCTYPE m [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
               b"<metadata>&x;</metadata>")
    with pytest.raises(InvalidMetadata, match="refused"):
        parse_xml(hostile)


def test_malformed_xml_is_refused() -> None:
    with pytest.raises(InvalidMetadata, match="malformed"):
        parse_xml(b"<metadata><idinfo></metadata>")
