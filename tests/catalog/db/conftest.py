"""Fixtures of the hot-standby tests (one standby per module, see tests/support/standby.py)."""

from tests.support.standby import primary_url, standby, standby_sql  # noqa: F401
