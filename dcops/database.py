"""Engine, sessions and schema migration.

SQLite (the embedded default) runs in WAL mode with foreign keys on, and every
transaction starts with ``BEGIN IMMEDIATE``: writers are serialised up front, so a
check-then-write in a service can never interleave with another writer. On
PostgreSQL the services take row locks (``SELECT ... FOR UPDATE``) where they check
invariants that span rows, and unique constraints back them up.
"""

from __future__ import annotations

import os
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import anyio
import anyio.to_thread
from fastapi import Depends, Request
from sqlalchemy import DateTime, event, text
from sqlalchemy.engine import Engine
from sqlalchemy.types import TypeDecorator
from sqlmodel import Session, create_engine

from dcops.config import get_settings

_engines: dict[str, Engine] = {}
_readers: dict[str, tuple[Engine, Engine]] = {}  # url -> (its engine, the read-only view of it)
READ_ONLY = "dcops_read_only"


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC timestamp on every backend (SQLite stores it naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    """Return the current time, timezone-aware, in UTC."""
    return datetime.now(UTC)


_QUEUED_WRITER = "dcops_queued_writer"


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    # SQLite has one writer at a time. Its busy handler makes a waiting writer sleep and retry, which is unfair
    # under load (50 clients: one PATCH in a hundred waited 2.7 s); the writers of this process queue on a lock
    # instead and take SQLite's in turn. Writers of other processes still meet the busy handler.
    writers = threading.Lock()

    def _release(info: dict[str, Any]) -> None:
        if info.pop(_QUEUED_WRITER, False):
            writers.release()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # a read (GET) takes no write lock, so readers never queue behind each other or behind a writer
        if conn.get_execution_options().get(READ_ONLY):
            conn.exec_driver_sql("BEGIN")
            return
        conn.info[_QUEUED_WRITER] = writers.acquire(timeout=30)  # past that, SQLite's busy handler decides
        try:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:
            _release(conn.info)
            raise

    @event.listens_for(engine, "commit")
    @event.listens_for(engine, "rollback")
    def _on_end(conn: Any) -> None:
        _release(conn.info)

    @event.listens_for(engine, "checkin")
    def _on_checkin(_dbapi_connection: Any, record: Any) -> None:
        _release(record.info)  # a connection given back mid-transaction does not keep the others waiting


def private_dir(path: Path) -> None:
    """Create ``path`` (and missing parents) readable by the owner only (0700)."""
    if not path.exists():
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(path, 0o700)  # mkdir's mode is filtered by the umask


def private_sqlite_file(path: Path) -> None:
    """Make the SQLite file (and its WAL and SHM, which SQLite creates with the file's mode) 0600."""
    private_dir(path.parent)
    if not path.exists():
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
    for candidate in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        if candidate.exists() and candidate.stat().st_mode & 0o077:
            os.chmod(candidate, 0o600)  # files from before this rule


def get_engine(url: str | None = None) -> Engine:
    """Return the (cached) engine for ``url``, by default the configured database."""
    url = url or get_settings().database_url
    engine = _engines.get(url)
    if engine is None:
        if url.startswith("sqlite"):
            path = url.split("///", 1)[-1]
            if path and path != ":memory:":
                private_sqlite_file(Path(path))
            # as many pooled connections as the API's thread pool runs requests (anyio's 40): an overflow
            # connection is closed when given back, and the next one pays the connect pragmas again
            engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30},
                                   pool_size=40, max_overflow=20)
            _configure_sqlite(engine)
        else:
            if url.startswith("postgresql://"):
                url_driver = "postgresql+psycopg://" + url[len("postgresql://"):]
            else:
                url_driver = url
            # sized per process: a cluster of N workers holds at most N x (pool + overflow) connections
            settings = get_settings()
            engine = create_engine(url_driver, pool_size=settings.db_pool_size,
                                   max_overflow=settings.db_max_overflow, pool_pre_ping=True, pool_recycle=1800)
        _engines[url] = engine
    return engine


def dispose_engines() -> None:
    """Close every cached engine (tests and shutdown)."""
    for engine in _engines.values():
        engine.dispose()
    _engines.clear()
    _readers.clear()


def reader_engine(url: str | None = None) -> Engine:
    """Return the engine for reads: on SQLite its transactions start deferred (no write lock up front)."""
    engine = get_engine(url)
    key = str(engine.url)
    cached = _readers.get(key)
    if cached is None or cached[0] is not engine:  # made once per engine (making one costs ~2 % of a list request)
        cached = (engine, engine.execution_options(**{READ_ONLY: True}))
        _readers[key] = cached
    return cached[1]


async def get_session(request: Request) -> AsyncIterator[Session]:
    """Yield a session for one request; services commit, errors roll back.

    GET requests read in deferred transactions on SQLite (a write they make, such as a token's last use,
    starts its own transaction after a rollback); every other method starts ``BEGIN IMMEDIATE``.

    Async on purpose: a sync generator dependency costs two trips to a worker thread per request (FastAPI
    enters and exits it there), though making a session touches no database (it connects at its first
    statement, in the handler's thread). Closing one whose handler ended its transaction does no I/O either;
    a session left inside a transaction (a read, an error) is closed in a thread of its own, shielded from the
    request's cancellation so its connection always goes back to the pool.

    The rule that keeps a busy server live: a request never waits for one of the API's threads while its
    session holds a connection. Its handler runs in one thread (routes are ``routing.OffLoopRoute``, so
    FastAPI validates the answer on the event loop, not in a second trip), and the close here takes none.
    """
    bind = reader_engine() if request.method in ("GET", "HEAD") else get_engine()
    session = Session(bind, expire_on_commit=False)
    try:
        yield session
    finally:
        if session.in_transaction():
            # its own limiter, as FastAPI gives a dependency's exit: with the API's threads all busy on statements
            # that wait for a lock this transaction holds (a DDL queued behind it), a close that waits for one of
            # those threads would never come (seen: a TRUNCATE, 8 readers and this close, deadlocked)
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(session.close, limiter=anyio.CapacityLimiter(1))
        else:
            session.close()


SessionDep = Annotated[Session, Depends(get_session)]


@contextmanager
def session_scope() -> Iterator[Session]:
    """Open a session for code outside requests (CLI, scheduler); commits on success."""
    with Session(get_engine(), expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


def is_postgresql(session: Session) -> bool:
    """Tell whether ``session`` talks to PostgreSQL (row locks available)."""
    return session.get_bind().dialect.name == "postgresql"


def alembic_config(url: str | None = None) -> Any:
    """Return an Alembic config pointing at dcops' migrations and ``url``."""
    from alembic.config import Config

    here = Path(__file__).parent / "migrations"
    cfg = Config()
    cfg.set_main_option("script_location", str(here))
    cfg.set_main_option("sqlalchemy.url", (url or get_settings().database_url).replace("%", "%%"))
    return cfg


def upgrade(url: str | None = None, revision: str = "heads") -> None:
    """Apply migrations up to ``revision`` (the schema changes only this way)."""
    from alembic import command

    get_engine(url)  # creates the SQLite file's folder
    command.upgrade(alembic_config(url), revision)


def ping() -> bool:
    """Tell whether the database answers a trivial query."""
    try:
        with get_engine().connect() as conn:
            conn.execute(text("SELECT 1"))
        return True
    except Exception:
        return False
