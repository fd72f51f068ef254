"""Errors of the storage lifecycle.

StorageError
├── ArchiveError     the archive could not be written, read or verified
└── BackupError      a backup or restore step failed (pg_dump, pg_restore, files)
"""

from __future__ import annotations


class StorageError(Exception):
    """Something the lifecycle could not do; the message names what and why."""


class ArchiveError(StorageError):
    pass


class BackupError(StorageError):
    pass
