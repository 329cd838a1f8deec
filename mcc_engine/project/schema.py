"""The project file's tables, and the steps that bring an older project file up to date."""

from __future__ import annotations

import sqlite3
from typing import Final

from mcc_engine.errors import InputError
from mcc_engine.project.database import Database

SCHEMA_VERSION: Final = 3

_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS classes (idx INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE COLLATE NOCASE,
                                    color TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS images (id INTEGER PRIMARY KEY, rel_path TEXT NOT NULL UNIQUE,
    width INTEGER NOT NULL, height INTEGER NOT NULL, labels TEXT NOT NULL DEFAULT '',
    state TEXT NOT NULL DEFAULT 'new', score REAL, updated_at REAL, updated_by TEXT,
    rev_pos INTEGER NOT NULL DEFAULT 0, present INTEGER NOT NULL DEFAULT 1, content_hash TEXT,
    file_size INTEGER, mask_pending INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS revisions (image_id INTEGER NOT NULL, seq INTEGER NOT NULL, png BLOB,
    state TEXT NOT NULL, created_at REAL NOT NULL, PRIMARY KEY (image_id, seq));
CREATE TABLE IF NOT EXISTS runs (id INTEGER PRIMARY KEY, run_dir TEXT NOT NULL, checkpoint TEXT NOT NULL,
    kind TEXT NOT NULL, settings TEXT NOT NULL, created_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS tag_steps (step INTEGER PRIMARY KEY, undone INTEGER NOT NULL,
    created_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS tag_changes (step INTEGER NOT NULL, image_id INTEGER NOT NULL,
    before TEXT NOT NULL, after TEXT NOT NULL, PRIMARY KEY (step, image_id));
CREATE TABLE IF NOT EXISTS suggestions (image_id INTEGER PRIMARY KEY, scores TEXT NOT NULL,
    checkpoint TEXT NOT NULL);
"""
# Tables added since version 3 (tag history, suggestions) need no migration: each open creates
# what is missing, and an older app ignores them.

# Each entry upgrades a project from version k to k + 1; run in order, inside one transaction.
_MIGRATIONS: Final = {
    1: (
        "ALTER TABLE images ADD COLUMN content_hash TEXT",
        "ALTER TABLE images ADD COLUMN file_size INTEGER",
    ),
    # `mask_pending` marks a mask file that may not yet match its current revision. Older
    # versions could leave them apart after a kill: every image with a history is checked once.
    2: (
        "ALTER TABLE images ADD COLUMN mask_pending INTEGER NOT NULL DEFAULT 0",
        "UPDATE images SET mask_pending=1 WHERE id IN (SELECT DISTINCT image_id FROM revisions)",
    ),
}


def migrate(db: Database) -> None:
    """Create the tables of a new project, or bring an older one to SCHEMA_VERSION."""
    try:
        db.script(_SCHEMA)
        row = db.query("SELECT value FROM meta WHERE key='schema'")
    except sqlite3.DatabaseError as exc:
        raise InputError(db.path, f"not a readable project file ({exc})") from None
    if not row:  # new, or cut off while being created: tell its version by its columns
        columns = {r[1] for r in db.query("PRAGMA table_info(images)")}
        version = 1 + ("content_hash" in columns) + ("mask_pending" in columns)
        db.query("INSERT INTO meta VALUES ('schema', ?)", (str(version),))
    else:
        version = int(row[0][0])
    if version > SCHEMA_VERSION:
        raise InputError(db.path, "made by a newer MCC Annotate; update the app")
    if version == SCHEMA_VERSION:
        return
    with db.transaction():
        for step in range(version, SCHEMA_VERSION):
            for sql in _MIGRATIONS[step]:
                db.query(sql)
        db.query("UPDATE meta SET value=? WHERE key='schema'", (str(SCHEMA_VERSION),))
