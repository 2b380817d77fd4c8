"""Column types and table options that mean the same on SQLite, PostgreSQL and MariaDB.

Shared by the ORM models and the migration scripts so both create identical tables.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import BigInteger, DateTime, Integer, Text
from sqlalchemy.dialects import mysql
from sqlalchemy.types import TypeEngine

__all__ = [
    "ID_LENGTH",
    "KEY_LENGTH",
    "LONG_TEXT",
    "NOPAD_COLLATIONS",
    "ROW_ID",
    "SHORT_LENGTH",
    "TABLE_OPTIONS",
    "TABLE_OPTIONS_0001",
    "TIMESTAMP",
]

_MY = ("mysql", "mariadb")

# MariaDB's TEXT holds 64 KB; a single message may be megabytes.
LONG_TEXT: TypeEngine[str] = Text().with_variant(mysql.LONGTEXT(), *_MY)

# MariaDB's DATETIME drops fractions unless asked; ties would then be common.
TIMESTAMP: TypeEngine[Any] = DateTime().with_variant(mysql.DATETIME(fsp=6), *_MY)

# SQLite only autoincrements a column declared exactly INTEGER PRIMARY KEY.
ROW_ID: TypeEngine[int] = BigInteger().with_variant(Integer(), "sqlite")

# Conversation ids: uuid4 hex is 32 characters; leave room for callers' own schemes.
ID_LENGTH = 64

# Message keys: 24 hex characters (96 random bits), or "r<row id>" from revision 0006.
KEY_LENGTH = 32

# Model names, template names and hashes, metadata keys: String(255) columns.
SHORT_LENGTH = 255

NOPAD_COLLATIONS_MARIADB = "utf8mb4_nopad_bin"

# utf8mb4 stores every code point (emoji included); a binary collation keeps ids
# case-sensitive, as they are on the other backends. Revision 0001 created the tables
# with utf8mb4_bin, a PAD SPACE collation ("abc" = "abc "); revision 0003 converts them
# to the NO PAD binary collation of the server (NOPAD_COLLATIONS), so equal means equal
# bytes, as on SQLite and PostgreSQL.
TABLE_OPTIONS: dict[str, Any] = {
    "mysql_engine": "InnoDB",
    "mysql_charset": "utf8mb4",
    "mysql_collate": "utf8mb4_bin",
    "mariadb_engine": "InnoDB",
    "mariadb_charset": "utf8mb4",
    # MariaDB reads the mariadb_ options (a mariadb:// URL): new tables start NO PAD.
    # A mysql:// URL may reach MySQL or MariaDB, which name the collation differently,
    # so it starts with utf8mb4_bin and revision 0003 converts it.
    "mariadb_collate": NOPAD_COLLATIONS_MARIADB,
}

# The NO PAD binary collation of each server family.
NOPAD_COLLATIONS = {"mariadb": NOPAD_COLLATIONS_MARIADB, "mysql": "utf8mb4_0900_bin"}

# What revision 0001 created (a migration's schema never changes after release).
TABLE_OPTIONS_0001: dict[str, Any] = {**TABLE_OPTIONS, "mariadb_collate": "utf8mb4_bin"}
