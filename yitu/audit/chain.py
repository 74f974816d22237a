"""Append to and verify the HMAC chain.

Each record's MAC is HMAC-SHA256(key, canonical JSON of the record including its ``seq`` and the
previous record's MAC). An edit breaks that record's MAC; a deletion or insertion breaks the
sequence and the link; a reorder breaks both. Tail truncation is caught against an anchor
(``yitu audit head`` printed and kept elsewhere, then ``yitu audit verify --anchor``).
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import threading
import weakref
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from hashlib import sha256
from typing import Any

from sqlalchemy import Connection, insert, select, text
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session

from yitu.audit.keys import AuditKey
from yitu.audit.models import AuditEvent
from yitu.core.clock import Clock, SystemClock
from yitu.core.db import Database
from yitu.core.logs import request_id_var

log = logging.getLogger(__name__)

GENESIS = "0" * 64
_HEAD = select(AuditEvent.seq, AuditEvent.mac).order_by(AuditEvent.seq.desc()).limit(1)
CHAINED_FIELDS = (
    "seq",
    "event_time",
    "actor_user_id",
    "actor_username",
    "actor_role",
    "session_id",
    "client_ip",
    "request_id",
    "action",
    "object_type",
    "object_ids",
    "fields",
    "purpose",
    "reason",
    "success",
    "detail",
    "key_id",
    "prev_mac",
)


@dataclass
class Actor:
    user_id: int | None = None
    username: str = ""
    role: str = ""
    session_id: int | None = None
    client_ip: str = ""


@dataclass
class Entry:
    action: str
    actor: Actor = field(default_factory=Actor)
    object_type: str = ""
    object_ids: list[Any] = field(default_factory=list)
    fields: list[str] = field(default_factory=list)
    purpose: str = ""
    reason: str = ""
    success: bool = True
    detail: str = ""


def compute_mac(key: bytes, values: dict[str, Any]) -> str:
    canonical = json.dumps(
        {k: values[k] for k in CHAINED_FIELDS},
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hmac.new(key, canonical.encode(), sha256).hexdigest()


def _row_values(event: AuditEvent) -> dict[str, Any]:
    return {k: getattr(event, k) for k in CHAINED_FIELDS}


# Append only if the caller's view of the head is still the head. Records are immutable
# (triggers), so "no record after seq N" proves that N, whose MAC the caller knows, is the head.
_COLUMNS = (*CHAINED_FIELDS, "mac")
_CASTS = {
    "seq": "INTEGER",
    "actor_user_id": "INTEGER",
    "session_id": "INTEGER",
    "success": "BOOLEAN",
}
_APPEND_IF_HEAD = text(
    f"INSERT INTO audit_events ({', '.join(_COLUMNS)}) SELECT "
    + ", ".join(f"CAST(:{c} AS {_CASTS[c]})" if c in _CASTS else f":{c}" for c in _COLUMNS)
    + " WHERE NOT EXISTS (SELECT 1 FROM audit_events WHERE seq > :head_seq)"
)
_PG_LOCK = text("SELECT pg_advisory_xact_lock(7135001)")
# PostgreSQL group commit in one round trip: the whole batch as one conditional insert (all rows
# or none: the condition does not depend on the row), one fixed statement text for any batch
# size (so psycopg prepares it), sent with BEGIN, the advisory lock and COMMIT in one pipeline.
# The rows travel as one JSON text (the encoder is C; adapting a Python list per column cost a
# third more CPU per batch); JSON round-trips every value exactly, so the MACs hold.
_PG_APPEND_BATCH_IF_HEAD = (
    f"INSERT INTO audit_events ({', '.join(_COLUMNS)}) SELECT {', '.join(_COLUMNS)} "
    "FROM json_populate_recordset(NULL::audit_events, %s::json) "
    "WHERE NOT EXISTS (SELECT 1 FROM audit_events WHERE seq > %s)"
)


class AuditLog:
    """The only writer of ``audit_events``. Appends are serialised so the chain stays linear.

    In this process a lock serialises appends and keeps the last head written (seq, MAC) as a
    hint; it is only a hint: under the database write lock (the SQLite write transaction, a
    PostgreSQL advisory lock) the insert happens only if no record follows the hinted head, else
    the head is read and the insert repeated. So other processes (CLI, more workers) can append
    too, and a unique ``seq`` catches anything else.

    Reads are group-committed (``submit``): concurrent callers queue their entries; the first
    waiter becomes the leader, appends every queued entry in one transaction (the chain computed
    in queue order under the same locks as a single append), commits, and wakes the others.
    ``submit`` returns only once the caller's record is committed; if the batch fails, every
    caller in it gets ``AuditUnavailableError`` and nothing is served unaudited.
    """

    def __init__(self, db: Database, key: AuditKey, clock: Clock | None = None) -> None:
        self.db = db
        self.key = key
        self.clock = clock or SystemClock()
        self._lock = threading.Lock()
        self._head: tuple[int, str] | None = None  # hint: last (seq, mac) this process saw
        self._group = threading.Condition(threading.Lock())
        self._pending: list[_Slot] = []
        self._leading = False
        # per event loop: entries queued by async callers, and whether a flush is under way
        self._async: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopQueue] = (
            weakref.WeakKeyDictionary()
        )
        self.batches_committed = 0  # counters: group commit at work (tests, diagnostics)
        self.records_committed = 0

    def record(self, entry: Entry) -> int:
        """Append in a transaction of its own."""
        with self.db.engine.connect() as conn:
            return self.append(conn, entry)

    async def submit_async(self, entry: Entry) -> int:
        """Group commit from an event loop: await until ``entry`` is committed and return its
        ``seq``. Entries queued on this loop while a batch is written go together in the next
        one: written inline on SQLite, in a worker thread on PostgreSQL (one thread hop per
        batch, not per request); the write joins the thread-level group commit of ``submit``."""
        loop = asyncio.get_running_loop()
        q = self._async.get(loop)
        if q is None:
            q = self._async[loop] = _LoopQueue()
        fut: asyncio.Future[int] = loop.create_future()
        q.items.append((entry, request_id_var.get(), fut))
        if not q.flushing:
            q.flushing = True
            q.task = loop.create_task(self._flush_loop(q))
        return await fut

    async def _flush_loop(self, q: _LoopQueue) -> None:
        import anyio.to_thread

        try:
            while q.items:
                batch, q.items = q.items, []
                items = [(e, rid) for e, rid, _ in batch]
                try:
                    if self.db.dialect == "sqlite":
                        # Embedded SQLite is CPU work: inline, like the reads (a worker thread
                        # would fight the loop for the GIL). Entries queued while earlier ones
                        # were read or written make the next batch.
                        await asyncio.sleep(0)
                        items += [(e, rid) for e, rid, _ in q.items]
                        batch, q.items = batch + q.items, []
                        seqs = self.submit_many(items)
                    else:
                        seqs = await anyio.to_thread.run_sync(self.submit_many, items)
                except BaseException as exc:
                    for _, _, fut in batch:
                        if not fut.done():
                            fut.set_exception(AuditUnavailableError(str(exc)))
                    if not isinstance(exc, Exception):
                        raise
                    continue
                for (_, _, fut), seq in zip(batch, seqs, strict=True):
                    if not fut.done():
                        fut.set_result(seq)
        finally:
            q.flushing = False
            for _, _, fut in q.items:  # only if cancelled: nothing is left waiting forever
                if not fut.done():
                    fut.set_exception(AuditUnavailableError("audit flush cancelled"))
            q.items = []

    def submit(self, entry: Entry, request_id: str | None = None) -> int:
        """Group commit: block until ``entry`` is committed (with the entries of concurrent
        callers, in one transaction) and return its ``seq``. Safe from any thread."""
        rid = request_id_var.get() if request_id is None else request_id
        return self.submit_many([(entry, rid)])[0]

    def submit_many(self, items: list[tuple[Entry, str]]) -> list[int]:
        """``submit`` for several (entry, request id) pairs: committed together, seqs returned."""
        slot = _Slot(items)
        with self._group:
            self._pending.append(slot)
            while not slot.done and self._leading:
                self._group.wait()
            if not slot.done:
                self._leading = True
                batch, self._pending = self._pending, []
        if not slot.done:  # the leader: write every queued entry, then wake the followers
            try:
                self._commit_batch(batch)
            finally:
                with self._group:
                    for s in batch:
                        s.done = True
                    self._leading = False
                    self._group.notify_all()
        if slot.error is not None:
            raise AuditUnavailableError("the audit record could not be committed") from slot.error
        return slot.seqs

    def _commit_batch(self, batch: list[_Slot]) -> None:
        items = [i for s in batch for i in s.items]
        try:
            seqs = self._append_batch_pg(items) if self.db.dialect == "postgresql" else None
            if seqs is None:
                with self.db.engine.connect() as conn:
                    seqs = self._append_committed(conn, items)
        except BaseException as exc:
            for s in batch:
                s.error = exc
            if not isinstance(exc, Exception):
                raise
            log.error("audit batch of %d records failed: %s", len(batch), type(exc).__name__)
            return
        n = 0
        for s in batch:
            s.seqs = seqs[n : n + len(s.items)]
            n += len(s.items)
        self.batches_committed += 1
        self.records_committed += n

    def _append_batch_pg(self, items: list[tuple[Entry, str]]) -> list[int] | None:
        """The PostgreSQL group commit's fast path: BEGIN, the advisory lock, every record in one
        insert conditional on the hinted head still being the head, and COMMIT, pipelined in
        one round trip (the general path takes six). Returns the committed seqs, or None when
        there is no hint or the condition failed (another process appended; that transaction
        inserted nothing, so committing it was harmless): then the caller takes the general
        path, which reads the head under the lock."""
        if self.db.engine.dialect.driver != "psycopg":
            return None
        import psycopg

        with self._lock:
            if self._head is None:
                return None
            rows: list[dict[str, Any]] = []
            seq, mac = self._head
            for entry, request_id in items:
                rows.append(self._values(entry, seq + 1, mac, request_id))
                seq, mac = rows[-1]["seq"], rows[-1]["mac"]
            params = (json.dumps(rows), self._head[0])
            fairy = self.db.engine.raw_connection()
            try:
                raw = fairy.driver_connection
                with raw.pipeline():  # type: ignore[union-attr]
                    raw.execute(_PG_LOCK.text)  # type: ignore[union-attr]
                    cur = raw.execute(_PG_APPEND_BATCH_IF_HEAD, params)  # type: ignore[union-attr]
                    raw.commit()  # type: ignore[union-attr]
            except psycopg.IntegrityError:
                # Cannot happen while every appender takes the advisory lock; if it does, the
                # general path (head read, retries) sorts it out. Nothing was committed.
                self._head = None
                fairy.invalidate()
                return None
            except BaseException:
                # A driver error did not pass through SQLAlchemy: drop the connection, whatever
                # state it is in. The batch fails (its readers get 500s), as on the general path.
                self._head = None
                fairy.invalidate()
                raise
            finally:
                fairy.close()
            if cur.rowcount != len(rows):
                self._head = None
                return None
            self._head = (seq, mac)
            return [r["seq"] for r in rows]

    def append(self, conn: Connection, entry: Entry) -> int:
        """Append ``entry`` in ``conn``'s transaction and commit it (with whatever else the
        transaction holds, e.g. the read the entry records): when this returns, it is durable."""
        return self._append_committed(conn, [(entry, request_id_var.get())])[0]

    def _append_committed(self, conn: Connection, items: list[tuple[Entry, str]]) -> list[int]:
        for attempt in range(5):
            try:
                with self._lock:
                    try:
                        seqs, mac = self._append(conn, items)
                        conn.commit()
                    except BaseException:
                        self._head = None
                        raise
                    self._head = (seqs[-1], mac)
                    return seqs
            except (IntegrityError, DBAPIError) as exc:  # another process raced: re-read the head
                conn.rollback()
                if attempt == 4 or (not isinstance(exc, IntegrityError) and not _is_busy(exc)):
                    raise
                log.warning("audit append raced (attempt %d), retrying", attempt + 1)
        raise RuntimeError("could not append to the audit log")

    def _values(self, entry: Entry, seq: int, prev: str, request_id: str) -> dict[str, Any]:
        values: dict[str, Any] = {
            "seq": seq,
            "event_time": self.clock.now().isoformat(timespec="microseconds"),
            "actor_user_id": entry.actor.user_id,
            "actor_username": entry.actor.username,
            "actor_role": entry.actor.role,
            "session_id": entry.actor.session_id,
            "client_ip": entry.actor.client_ip,
            "request_id": request_id,
            "action": entry.action,
            "object_type": entry.object_type,
            "object_ids": _ids_json(entry.object_ids),
            "fields": _fields_json(tuple(entry.fields)),
            "purpose": entry.purpose,
            "reason": entry.reason,
            "success": entry.success,
            "detail": entry.detail,
            "key_id": self.key.key_id,
            "prev_mac": prev,
        }
        values["mac"] = compute_mac(self.key.secret, values)
        return values

    def _append(self, conn: Connection, items: list[tuple[Entry, str]]) -> tuple[list[int], str]:
        """Insert ``items`` as consecutive records after the head, in ``conn``'s transaction;
        return their seqs and the last MAC.

        The first insert is conditional on the hinted head still being the head (no hint: on
        the log being empty). On PostgreSQL the advisory lock is taken first; on SQLite that
        first insert is a write statement, so even when it inserts nothing it has taken the
        database write lock. Either way the head read that follows a failed condition cannot
        change until this transaction ends, and the rest follow it with no gap."""
        if self.db.dialect == "postgresql":
            conn.execute(_PG_LOCK)
        hint = self._head or (0, GENESIS)
        first = self._values(items[0][0], hint[0] + 1, hint[1], items[0][1])
        if conn.execute(_APPEND_IF_HEAD, {**first, "head_seq": hint[0]}).rowcount == 1:
            rows, to_insert = [first], []
        else:  # another writer appended since the hint: read the head, now under the lock
            head = conn.execute(_HEAD).first()
            seq, prev = (head[0] + 1, head[1]) if head else (1, GENESIS)
            rows = [self._values(items[0][0], seq, prev, items[0][1])]
            to_insert = rows[:]
        for entry, request_id in items[1:]:
            row = self._values(entry, rows[-1]["seq"] + 1, rows[-1]["mac"], request_id)
            rows.append(row)
            to_insert.append(row)
        if to_insert:
            conn.execute(insert(AuditEvent), to_insert)
        return [r["seq"] for r in rows], rows[-1]["mac"]

    @contextmanager
    def change(self, **info: Any) -> Iterator[Change]:
        """One transaction for a change and its audit records (等保: every change audited).

        ``with audit.change(**session_info) as change:`` make the change in ``change.session``
        and ``change.record(entry)`` what was done. On leaving the block the session is
        flushed, the entries are appended to the chain *in the same transaction*, and it
        commits: the change and its records are durable together or not at all. An exception
        in the block, in the flush, in the append or at commit rolls everything back. A change
        that recorded nothing is refused (rolled back).

        The chain stays linear because the append happens under the database's write lock
        (SQLite: held from the transaction's first write; PostgreSQL: the advisory lock),
        held until this commit; no process lock is taken while that lock is held, so this
        cannot deadlock with the group commit of reads (which takes the process lock first).
        """
        with self.db.sessions() as session:
            session.info.update(info)
            change = Change(session)
            try:
                with session.begin():
                    yield change
                    if not change.entries:
                        if change.unchanged:
                            raise _NothingChangedError
                        raise RuntimeError("an audited change must record at least one audit entry")
                    session.flush()
                    seqs, mac = self._append(session.connection(), change.entries)
            except _NothingChangedError:
                return
            change.seqs = seqs
        self._advance_head(seqs[-1], mac)

    def append_in(self, conn: Connection, entries: list[Entry]) -> None:
        """Append ``entries`` inside ``conn``'s open transaction, for a change made there (a
        bulk load on its own connection, not an ORM session): they commit or roll back with it.
        The caller commits. Same locking as ``change`` (the transaction has written, so on
        SQLite it holds the write lock; on PostgreSQL the advisory lock is taken here and held
        to its end). The head hint is not moved: the next append finds the head itself."""
        if not entries:
            raise ValueError("append_in needs at least one entry")
        rid = request_id_var.get()
        self._append(conn, [(e, rid) for e in entries])

    def _advance_head(self, seq: int, mac: str) -> None:
        """Remember a committed record as the head hint unless a later one is known already."""
        with self._lock:
            if self._head is None or self._head[0] < seq:
                self._head = (seq, mac)

    def head(self) -> tuple[int, str] | None:
        with self.db.session() as session:
            row = session.execute(
                select(AuditEvent.seq, AuditEvent.mac).order_by(AuditEvent.seq.desc()).limit(1)
            ).first()
        return (row[0], row[1]) if row else None


def _ids_json(ids: list[Any]) -> str:
    """``json.dumps(ids, separators=(",", ":"))``; for plain ints (every read's record) the same
    text joined directly, without the encoder."""
    if all(type(i) is int for i in ids):
        return "[" + ",".join(map(str, ids)) + "]"
    return json.dumps(ids, separators=(",", ":"))


@lru_cache(maxsize=256)
def _fields_json(fields: tuple[str, ...]) -> str:
    # A handful of field lists (one per tier and record kind) recur on every read.
    return json.dumps(sorted(fields), separators=(",", ":"))


class Change:
    """An audited change in progress (see ``AuditLog.change``): its ORM session, and the audit
    entries that will be committed with it."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.entries: list[tuple[Entry, str]] = []
        self.seqs: list[int] = []  # set once committed
        self.unchanged = False

    def record(self, entry: Entry) -> None:
        """Audit ``entry`` with this change (appended to the chain when the change commits)."""
        self.entries.append((entry, request_id_var.get()))

    def nothing_changed(self) -> None:
        """The block found nothing to change (e.g. an update to the values already held): it
        ends without a record, and its transaction is rolled back, not committed, so nothing
        unrecorded can be written. Ignored once an entry is recorded."""
        self.unchanged = True


class _NothingChangedError(Exception):
    """Ends a change block that called ``Change.nothing_changed`` and recorded nothing."""


class AuditUnavailableError(RuntimeError):
    """The audit record of a read could not be committed: the read must not be served."""


class _Slot:
    """One caller's place in a group commit."""

    __slots__ = ("done", "error", "items", "seqs")

    def __init__(self, items: list[tuple[Entry, str]]) -> None:
        self.items = items
        self.seqs: list[int] = []
        self.error: BaseException | None = None
        self.done = False


class _LoopQueue:
    """Async callers' entries on one event loop, waiting for the next flush."""

    __slots__ = ("flushing", "items", "task")

    def __init__(self) -> None:
        self.items: list[tuple[Entry, str, asyncio.Future[int]]] = []
        self.flushing = False
        self.task: asyncio.Task[None] | None = None


@dataclass
class VerifyResult:
    ok: bool
    checked: int
    first_bad_seq: int | None = None
    first_bad_id: int | None = None
    problem: str = ""


def _is_busy(exc: DBAPIError) -> bool:
    """SQLite's "database is locked" (a writer in another process outlasted busy_timeout)."""
    return "locked" in str(exc.orig) or "busy" in str(exc.orig)


def verify_events(
    events: Iterable[AuditEvent], key: AuditKey, anchor: tuple[int, str] | None = None
) -> VerifyResult:
    """Walk the log in physical (id) order and name the first record that breaks the chain."""
    prev_mac, expected_seq, checked = GENESIS, 1, 0
    anchor_seen = anchor is None

    def bad(ev: AuditEvent, problem: str) -> VerifyResult:
        return VerifyResult(False, checked, ev.seq, ev.id, problem)

    for ev in events:
        if ev.key_id != key.key_id:
            return bad(ev, f"record was written with key {ev.key_id}, not the key given")
        if not hmac.compare_digest(compute_mac(key.secret, _row_values(ev)), ev.mac):
            return bad(ev, "MAC does not match the record: it was edited or forged")
        if ev.seq != expected_seq:
            kind = "deleted or reordered" if ev.seq > expected_seq else "inserted or reordered"
            return bad(ev, f"expected seq {expected_seq}, found {ev.seq}: records {kind}")
        if ev.prev_mac != prev_mac:
            return bad(ev, "link to the previous record is broken: records deleted or reordered")
        if anchor and ev.seq == anchor[0]:
            if not hmac.compare_digest(ev.mac, anchor[1]):
                return bad(ev, "record differs from the anchor kept outside the database")
            anchor_seen = True
        prev_mac, expected_seq, checked = ev.mac, expected_seq + 1, checked + 1
    if not anchor_seen and anchor is not None:
        return VerifyResult(
            False,
            checked,
            anchor[0],
            None,
            f"log ends at seq {expected_seq - 1}, before the anchor seq {anchor[0]}: tail deleted",
        )
    return VerifyResult(True, checked)


def verify(db: Database, key: AuditKey, anchor: tuple[int, str] | None = None) -> VerifyResult:
    with db.session() as session:
        rows = session.scalars(
            select(AuditEvent).order_by(AuditEvent.id).execution_options(yield_per=1000)
        )
        return verify_events(rows, key, anchor)
