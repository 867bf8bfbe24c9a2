"""Typed operations both APIs and the command line call: each takes the caller and typed
inputs, enforces access once, and leaves wire formats to the adapters."""

from catalog.operations.assets import AssetOperations

__all__ = ["AssetOperations"]
