"""The SQLite database, its WAL and SHM, and the secret key are the owner's alone; so is the data directory."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from sqlalchemy import text


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_new_database_wal_shm_and_key_are_0600_in_a_0700_dir(tmp_path):
    from dcops.database import dispose_engines, get_engine
    from dcops.security import ensure_secret_key

    old = os.umask(0o022)  # the usual umask, under which files would be 0644
    try:
        data = tmp_path / "data"
        db = data / "dcops.db"
        engine = get_engine(f"sqlite:///{db}")
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE t (x INTEGER)"))
            conn.execute(text("INSERT INTO t VALUES (1)"))
        with engine.connect() as conn:  # keep a connection open: WAL and SHM exist while it does
            conn.execute(text("SELECT * FROM t")).all()
            wal, shm = Path(f"{db}-wal"), Path(f"{db}-shm")
            assert wal.exists() and shm.exists()
            assert (_mode(db), _mode(wal), _mode(shm)) == (0o600, 0o600, 0o600)
        ensure_secret_key(data / "secret.key")
        assert _mode(data / "secret.key") == 0o600
        assert _mode(data) == 0o700
    finally:
        os.umask(old)
        dispose_engines()


def test_an_existing_world_readable_database_is_made_private(tmp_path):
    from dcops.database import dispose_engines, get_engine

    db = tmp_path / "old.db"
    db.touch()
    os.chmod(db, 0o644)
    try:
        with get_engine(f"sqlite:///{db}").connect() as conn:
            conn.execute(text("SELECT 1"))
        assert _mode(db) == 0o600
    finally:
        dispose_engines()
