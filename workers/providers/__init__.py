"""Provider processors: provider metadata (NAIP FGDC/ISO records) → item fields."""

from workers.providers.fgdc import parse_fgdc_text, parse_xml
from workers.providers.naip import NaipRecord, parse_naip_metadata
from workers.providers.processors import (
    GenericProcessor,
    NaipProcessor,
    Processor,
    ProcessorRegistry,
    default_registry,
)

__all__ = [
    "GenericProcessor",
    "NaipProcessor",
    "NaipRecord",
    "Processor",
    "ProcessorRegistry",
    "default_registry",
    "parse_fgdc_text",
    "parse_naip_metadata",
    "parse_xml",
]
