"""Provider processors and the registry that picks one per collection.

A processor turns a provider's own metadata record (and the file name) into the
:class:`~workers.extract.provider.ProviderMetadata` that ``build_item`` merges into the
item. The generic processor knows no provider: it adds nothing and refuses a metadata
record rather than ignore it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, time
from pathlib import PurePosixPath
from types import MappingProxyType
from typing import Any, Protocol

from workers.errors import InvalidMetadata
from workers.extract.provider import ProviderMetadata
from workers.providers.naip import (
    NAIP_BANDS,
    NAIP_NAME,
    USDA_PROVIDER,
    NaipRecord,
    parse_naip_metadata,
)


class Processor(Protocol):
    """Builds provider metadata for one raster of a collection."""

    name: str
    reads_metadata: bool
    """Whether the processor reads a metadata record stored beside the raster (a sidecar
    file is then sent along with it)."""

    def describe(self, file_name: str, metadata: bytes | None) -> ProviderMetadata:
        """Provider metadata for the raster named ``file_name``, from its metadata
        record (None when none was given). Raises ``InvalidMetadata``."""
        ...


@dataclass(frozen=True)
class GenericProcessor:
    """Any raster: everything comes from the file itself."""

    name: str = "generic"
    reads_metadata: bool = False

    def describe(self, file_name: str, metadata: bytes | None) -> ProviderMetadata:
        """Empty provider metadata; a metadata record is refused, as nothing reads it."""
        if metadata is not None:
            raise InvalidMetadata(
                "the generic processor reads no metadata record; register a provider "
                "processor for this collection or send the raster alone"
            )
        return ProviderMetadata()


def naip_gsd(record: NaipRecord, file_name: str) -> float | None:
    """Ground sample distance in metres: the record's, else the file name's resolution
    code ("1" = 1 m, "060" = 60 cm), else None."""
    if record.gsd:
        return record.gsd
    match = NAIP_NAME.search(record.resource_name or file_name)
    code = match.group("res") if match else ""
    if code.isdigit():
        return int(code) / 100 if len(code) == 3 else float(code)
    return None


@dataclass(frozen=True)
class NaipProcessor:
    """NAIP DOQQs, described by their FGDC or ISO metadata record (required: only the
    record names the state that NAIP item ids and ``naip:state`` carry)."""

    name: str = "naip"
    reads_metadata: bool = True

    def describe(self, file_name: str, metadata: bytes | None) -> ProviderMetadata:
        """Provider metadata shaped like the published NAIP items."""
        if metadata is None:
            raise InvalidMetadata(
                "a NAIP item needs the scene's FGDC or ISO metadata record (state and "
                "acquisition date)"
            )
        record = parse_naip_metadata(metadata)
        resource = record.resource_name or PurePosixPath(file_name).name.split(".")[0]
        properties: dict[str, Any] = {
            "naip:state": record.state,
            "naip:year": str(record.acquired.year),
            "providers": [dict(USDA_PROVIDER)],
        }
        gsd = naip_gsd(record, file_name)
        if gsd is not None:
            properties["gsd"] = gsd
        return ProviderMetadata(
            datetime=datetime.combine(record.acquired, time(0, 0), tzinfo=UTC),
            item_id=f"{record.state}_{resource}",
            properties=MappingProxyType(properties),
            eo_bands=NAIP_BANDS,
            asset_key="image",
            asset_title="RGBIR COG tile",
        )


@dataclass(frozen=True)
class ProcessorRegistry:
    """Processors by collection id; collections not listed get ``default``."""

    by_collection: Mapping[str, Processor] = field(default_factory=dict)
    default: Processor = field(default_factory=GenericProcessor)

    def for_collection(self, collection_id: str) -> Processor:
        """The processor of ``collection_id``."""
        return self.by_collection.get(collection_id, self.default)


def default_registry() -> ProcessorRegistry:
    """NAIP for the ``naip`` collection, the generic processor for every other."""
    return ProcessorRegistry(by_collection=MappingProxyType({"naip": NaipProcessor()}))
