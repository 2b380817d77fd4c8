"""Column types and table options that mean the same on SQLite, PostgreSQL and MariaDB.

Shared by the ORM models and the migration scripts so both create identical tables.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import BigInteger, DateTime, Integer, Text
from sqlalchemy.dialects import mysql
from sqlalchemy.types import TypeEngine

__all__ = ["ID_LENGTH", "LONG_TEXT", "ROW_ID", "TABLE_OPTIONS", "TIMESTAMP"]

_MY = ("mysql", "mariadb")

# MariaDB's TEXT holds 64 KB; a single message may be megabytes.
LONG_TEXT: TypeEngine[str] = Text().with_variant(mysql.LONGTEXT(), *_MY)

# MariaDB's DATETIME drops fractions unless asked; ties would then be common.
TIMESTAMP: TypeEngine[Any] = DateTime().with_variant(mysql.DATETIME(fsp=6), *_MY)

# SQLite only autoincrements a column declared exactly INTEGER PRIMARY KEY.
ROW_ID: TypeEngine[int] = BigInteger().with_variant(Integer(), "sqlite")

# Conversation ids: uuid4 hex is 32 characters; leave room for callers' own schemes.
ID_LENGTH = 64

# utf8mb4 stores every code point (emoji included); the _bin collation keeps ids
# case-sensitive, as they are on the other backends.
TABLE_OPTIONS: dict[str, Any] = {
    "mysql_engine": "InnoDB",
    "mysql_charset": "utf8mb4",
    "mysql_collate": "utf8mb4_bin",
    "mariadb_engine": "InnoDB",
    "mariadb_charset": "utf8mb4",
    "mariadb_collate": "utf8mb4_bin",
}
