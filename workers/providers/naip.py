"""NAIP (USDA National Agriculture Imagery Program) metadata and items.

A NAIP scene (a DOQQ) ships with a metadata record in one of three forms: FGDC CSDGM
text (older years), FGDC CSDGM XML, or ISO 19115-2 XML (2020 on). All three give the
acquisition date, the state and the resource (file) name; the item then looks like the
published ones (Planetary Computer ``naip``): id ``<state>_<resource name>``, datetime
at midnight UTC of the acquisition date, ``gsd``, ``naip:state``, ``naip:year``, the
USDA provider and an ``image`` asset with the Red, Green, Blue and NIR bands.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Literal
from xml.etree.ElementTree import Element

from workers.errors import InvalidMetadata
from workers.extract.names import NAIP_NAME
from workers.providers.fgdc import (
    FgdcTree,
    fgdc_text,
    fgdc_values,
    local_name,
    parse_fgdc_text,
    parse_xml,
    xml_texts,
)

Source = Literal["fgdc-text", "fgdc-xml", "iso-xml"]

US_STATES = frozenset({
    "AL", "AK", "AZ", "AR", "CA", "CO", "CT", "DE", "FL", "GA", "HI", "ID", "IL", "IN",
    "IA", "KS", "KY", "LA", "ME", "MD", "MA", "MI", "MN", "MS", "MO", "MT", "NE", "NV",
    "NH", "NJ", "NM", "NY", "NC", "ND", "OH", "OK", "OR", "PA", "RI", "SC", "SD", "TN",
    "TX", "UT", "VT", "VA", "WA", "WV", "WI", "WY", "DC", "PR", "VI",
})

USDA_PROVIDER = {
    "name": "USDA Farm Service Agency",
    "roles": ["producer", "licensor"],
    "url": "https://www.fsa.usda.gov/programs-and-services/aerial-photography/"
    "imagery-programs/naip-imagery/",
}
NAIP_BANDS = (
    {"name": "Red", "common_name": "red"},
    {"name": "Green", "common_name": "green"},
    {"name": "Blue", "common_name": "blue"},
    {"name": "NIR", "common_name": "nir", "description": "near-infrared"},
)

_TEXT_DATE = ("Identification_Information", "Time_Period_of_Content",
              "Time_Period_Information", "Single_Date/Time", "Calendar_Date")
_TEXT_PLACES = ("Identification_Information", "Keywords", "Place", "Place_Keyword")
_TEXT_RESOURCE = ("Distribution_Information", "Resource_Description")
_TEXT_GSD = ("Spatial_Reference_Information", "Horizontal_Coordinate_System_Definition",
             "Planar", "Planar_Coordinate_Information", "Coordinate_Representation",
             "Abscissa_Resolution")


@dataclass(frozen=True)
class NaipRecord:
    """What a NAIP metadata record says about its scene.

    ``resource_name`` is the scene's file name without extension; it is None when the
    record does not give one (some records lack ``Resource_Description``), and the
    processor then uses the raster's own file name.
    """

    acquired: date
    state: str
    resource_name: str | None
    gsd: float | None
    source: Source


def _date(value: str, what: str) -> date:
    try:
        return datetime.strptime(value.replace("-", "")[:8], "%Y%m%d").date()
    except ValueError as exc:
        raise InvalidMetadata(f"NAIP metadata: {what} {value!r} is not a date") from exc


def _resource(value: str | None) -> str | None:
    """A NAIP file name (extension dropped), or None for anything else ("none")."""
    match = NAIP_NAME.search(value or "")
    return Path(value.strip()).name.split(".")[0] if match and value else None


def _state(keywords: list[str]) -> str:
    for keyword in keywords:
        if keyword.strip().upper() in US_STATES:
            return keyword.strip().lower()
    raise InvalidMetadata("NAIP metadata: no place keyword names a US state")


def _gsd(value: str | None) -> float | None:
    try:
        return float(value) if value else None
    except ValueError:
        return None


def _record(
    date_text: str | None, resource: str | None, state: str, gsd: float | None, source: Source
) -> NaipRecord:
    """Complete a record: the date from the resource name when the record has none."""
    if date_text is None:
        match = NAIP_NAME.search(resource or "")
        if match is None:
            raise InvalidMetadata("NAIP metadata: no acquisition date found")
        date_text = match.group("date")
    return NaipRecord(_date(date_text, "acquisition date"), state, resource, gsd, source)


def naip_from_fgdc_text(tree: FgdcTree) -> NaipRecord:
    """A NAIP record from a parsed FGDC text record."""
    places = [v for v in fgdc_values(tree, _TEXT_PLACES) if isinstance(v, str)]
    return _record(
        fgdc_text(tree, _TEXT_DATE), _resource(fgdc_text(tree, _TEXT_RESOURCE)),
        _state(places), _gsd(fgdc_text(tree, _TEXT_GSD)), "fgdc-text",
    )


def naip_from_fgdc_xml(root: Element) -> NaipRecord:
    """A NAIP record from FGDC CSDGM XML (``<metadata><idinfo>...``)."""
    dates = xml_texts(root, ("idinfo", "timeperd", "timeinfo", "sngdate", "caldate"))
    names = [
        *xml_texts(root, ("distinfo", "resdesc")),
        *xml_texts(root, ("idinfo", "citation", "citeinfo", "title")),
    ]
    resource = next((r for r in map(_resource, names) if r), None)
    gsd = xml_texts(root, ("spref", "horizsys", "planar", "planci", "coordrep", "absres"))
    return _record(
        dates[0] if dates else None, resource,
        _state(xml_texts(root, ("idinfo", "keywords", "place", "placekey"))),
        _gsd(gsd[0] if gsd else None), "fgdc-xml",
    )


def _iso_place_keywords(root: Element) -> list[str]:
    keywords: list[str] = []
    for group in root.iter():
        if local_name(group) != "MD_Keywords":
            continue
        codes = [
            e.get("codeListValue") for e in group.iter() if local_name(e) == "MD_KeywordTypeCode"
        ]
        if "place" in codes:
            keywords += xml_texts(group, ("keyword", "CharacterString"))
    return keywords


def naip_from_iso_xml(root: Element) -> NaipRecord:
    """A NAIP record from ISO 19115-2 XML (``MI_Metadata``, any namespace prefixes).

    The date comes from the file identifier (the NAIP file name): the temporal extent
    of published records is sometimes a template value (1990-11-03 in
    m_3610332_se_13_060_20200903), while the name always carries the acquisition date.
    """
    identifiers = xml_texts(root, ("fileIdentifier", "CharacterString"))
    resource = _resource(identifiers[0] if identifiers else None)
    lengths = [e.text for e in root.iter() if local_name(e) == "Length" and e.text]
    instants = [e.text.strip() for e in root.iter() if local_name(e) == "timePosition" and e.text]
    date_text = None if resource else next(iter(instants), None)
    return _record(
        date_text, resource, _state(_iso_place_keywords(root)),
        _gsd(lengths[0] if lengths else None), "iso-xml",
    )


def parse_naip_metadata(data: bytes) -> NaipRecord:
    """Read a NAIP metadata record in any of its three forms.

    Raises ``InvalidMetadata`` when the record is malformed, unsafe XML, of another
    kind, or lacks the state or the acquisition date.
    """
    head = data.lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith(b"<"):
        root = parse_xml(data)
        if local_name(root) == "metadata":
            return naip_from_fgdc_xml(root)
        if local_name(root) in ("MI_Metadata", "MD_Metadata"):
            return naip_from_iso_xml(root)
        raise InvalidMetadata(f"metadata XML root <{local_name(root)}> is neither FGDC nor ISO")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = data.decode("latin-1")
    return naip_from_fgdc_text(parse_fgdc_text(text))
