"""The platform fixtures (a real store, live loop and API on SQLite and PostgreSQL)."""

from __future__ import annotations

from tests.platform.conftest import api, db_url, postgres

__all__ = ["api", "db_url", "postgres"]
