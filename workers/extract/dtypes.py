"""Band data types: what the raster extension calls them and what numpy reads them as.

rasterio names GDAL's complex integer types in ways numpy does not understand
(``complex_int16``) or cannot tell apart (a CInt32 band reports ``complex64``, as a
CFloat32 one does). Pixel readers size their reads with :func:`numpy_dtype`, and the
``raster:bands`` ``data_type`` comes from GDAL's own type name, so a single-look complex
SAR product becomes an item like any other. Complex values are summarised by their
amplitude (modulus), the quantity SAR users display and compute statistics on.
"""

from __future__ import annotations

import re

import numpy as np
from rasterio.io import DatasetReaderBase, MemoryFile
from rasterio.shutil import copy as rio_copy

# GDAL data type names → raster extension v1.1.0 ``data_type`` values.
_STAC_NAMES = {
    "Byte": "uint8", "Int8": "int8", "UInt16": "uint16", "Int16": "int16",
    "UInt32": "uint32", "Int32": "int32", "UInt64": "uint64", "Int64": "int64",
    "Float16": "float16", "Float32": "float32", "Float64": "float64",
    "CInt16": "cint16", "CInt32": "cint32", "CFloat32": "cfloat32", "CFloat64": "cfloat64",
}
_VRT_BAND_TYPE = re.compile(r'<VRTRasterBand[^>]*\bdataType="(\w+)"')


def numpy_dtype(dtype: str) -> np.dtype:
    """The numpy type rasterio reads a band of ``dtype`` into (``complex_int16`` and
    other complex integers are read as ``complex64``)."""
    if dtype.startswith("complex_int"):
        return np.dtype("complex64")
    return np.dtype(dtype)


def is_complex(dtype: str) -> bool:
    """Whether a band of this rasterio ``dtype`` holds complex values."""
    return dtype.startswith("complex")


def _gdal_type_names(ds: DatasetReaderBase) -> list[str]:
    """GDAL's data type name of each band, from a metadata-only VRT copy of the dataset
    (rasterio does not expose it; its dtypes conflate CInt32 with CFloat32)."""
    with MemoryFile(ext=".vrt") as memory:
        rio_copy(ds, memory.name, driver="VRT")
        text = memory.read().decode("utf-8", "replace")
    return _VRT_BAND_TYPE.findall(text)


def stac_data_types(ds: DatasetReaderBase) -> list[str]:
    """The raster extension's ``data_type`` of each band (``cint16``... for complex)."""
    dtypes = list(ds.dtypes)
    if not any(is_complex(d) for d in dtypes):
        return dtypes
    names = _gdal_type_names(ds)
    if len(names) != len(dtypes):
        return ["other" if is_complex(d) else d for d in dtypes]
    return [
        _STAC_NAMES.get(name, "other") if is_complex(dtype) else dtype
        for name, dtype in zip(names, dtypes, strict=True)
    ]


def amplitude(values: np.ndarray) -> np.ndarray:
    """Complex values as their modulus (float), anything else unchanged; a masked
    array keeps its mask."""
    if not np.iscomplexobj(values):
        return values
    return np.ma.abs(values) if np.ma.isMaskedArray(values) else np.abs(values)
