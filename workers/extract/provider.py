"""What a provider processor knows beyond the raster itself, handed to ``build_item``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Any


@dataclass(frozen=True)
class ProviderMetadata:
    """Facts from a provider's own metadata (an FGDC record, a naming convention).

    ``properties`` are merged into the item's properties (``gsd``, ``providers``,
    ``naip:state``...); ``eo_bands``, when given, replace the band names read from the
    file and must have one entry per band. ``item_id`` is the provider's id for the
    scene; an id given by the caller still wins.
    """

    datetime: datetime | None = None
    item_id: str | None = None
    properties: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    eo_bands: tuple[Mapping[str, Any], ...] | None = None
    asset_key: str = "data"
    asset_title: str | None = None
    stac_extensions: tuple[str, ...] = ()
