"""Alembic on a bare store, and the few SQL steps every migration test takes: seed rows at an
old revision, then read rows, tables and columns after an upgrade or a downgrade."""

from __future__ import annotations

from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import inspect, text

from silkroute.store.db import MIGRATIONS, Store


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def run(store: Store, action: str, revision: str) -> None:
    config = alembic_config()
    with store.engine.begin() as connection:
        config.attributes["connection"] = connection
        getattr(command, action)(config, revision)


def execute(store: Store, *statements: str) -> None:
    """The statements, in order, in one transaction."""
    with store.engine.begin() as connection:
        for statement in statements:
            connection.execute(text(statement))


def one_row(store: Store, query: str) -> tuple[Any, ...]:
    with store.engine.begin() as connection:
        return tuple(connection.execute(text(query)).one())


def scalar(store: Store, query: str) -> Any:
    with store.engine.begin() as connection:
        return connection.execute(text(query)).scalar_one()


def tables(store: Store) -> set[str]:
    return set(inspect(store.engine).get_table_names())


def columns(store: Store, table: str) -> set[str]:
    return {c["name"] for c in inspect(store.engine).get_columns(table)}
