"""The processor registry and the generic processor."""

from __future__ import annotations

import pytest

from workers.errors import InvalidMetadata
from workers.extract import ProviderMetadata
from workers.providers import GenericProcessor, NaipProcessor, default_registry


def test_the_naip_collection_gets_the_naip_processor() -> None:
    assert isinstance(default_registry().for_collection("naip"), NaipProcessor)


def test_other_collections_get_the_generic_processor() -> None:
    assert isinstance(default_registry().for_collection("landsat"), GenericProcessor)


def test_the_generic_processor_adds_nothing() -> None:
    assert GenericProcessor().describe("a.tif", None) == ProviderMetadata()


def test_the_generic_processor_refuses_a_metadata_record_it_cannot_read() -> None:
    with pytest.raises(InvalidMetadata, match="reads no metadata record"):
        GenericProcessor().describe("a.tif", b"Metadata:\n")
