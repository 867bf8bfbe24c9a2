"""titiler serving any COG by ``?url=``, the reference bench/tiles.py compares with.

Run by bench/tiles.py from its own virtual environment (``titiler.core`` from PyPI).
"""

from fastapi import FastAPI
from titiler.core.factory import TilerFactory

app = FastAPI(title="titiler (bench reference)")
app.include_router(TilerFactory().router)
