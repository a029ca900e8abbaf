"""How one process's index stays in step with what every machine does to the shared store.

Writers log each change (`pit.artifacts.changes`) and write reads in batches
(`pit.artifacts.accesses`); before the index answers a search or a question about accesses,
`catch_up` follows both streams of records (`pit.artifacts.follow`) from where this index got
to. Records this process wrote and applied to its own index are remembered, not read again.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from pit.artifacts import changes
from pit.artifacts.accesses import ACCESSES_PREFIX, AccessRecorder, parse_batch
from pit.artifacts.follow import SETTLE, Fetched, Follower, OwnKeys
from pit.artifacts.index_port import Access, AccessStats
from pit.artifacts.records import RecordStore, StampedKeys
from pit.common.errors import BackendUnavailableError, IntegrityError, PitError
from pit.common.logging import get_logger

log = get_logger("pit.artifacts")


class IndexSync:
    """The change log, the access batches and the followers of both, for one store.

    `shared` False (records kept in this process only): nothing to catch up from elsewhere,
    so a never-followed index is not rebuilt from the manifests on first use.
    """

    def __init__(
        self,
        store: changes.StoreView,
        records: RecordStore,
        *,
        shared: bool,
        access_interval: float,
        access_reads: int,
    ) -> None:
        self.store = store
        self.records = records
        self._own = OwnKeys()
        self._changes = StampedKeys(changes.LOG_PREFIX)
        self.accesses = AccessRecorder(
            records, interval=access_interval, max_reads=access_reads, written=self._counted
        )
        self.log = Follower(
            records,
            store.index,
            changes.LOG_PREFIX,
            self._apply_changes,
            own=self._own,
            bootstrap=self._bootstrap if shared else None,
            max_age=changes.LOG_KEEP - timedelta(days=1),
        )
        self.access_log = Follower(
            records, store.index, ACCESSES_PREFIX, self._apply_accesses, own=self._own
        )

    async def log_change(
        self, kind: changes.ChangeKind, keys: Sequence[tuple[str, int]], *, applied: bool
    ) -> None:
        """Tell every machine's index that these versions changed (`applied`: this process's
        index knows already). A record that cannot be written is logged: the versions are
        there all the same, and `reindex` finds them."""
        if not keys:
            return
        key = self._changes.next_key()
        try:
            # not fsynced on a local store: a power cut may lose it, never the version
            # itself, which `reindex` finds (see docs/artifacts.md)
            await self.records.create_record(key, changes.change_bytes(kind, keys), durable=False)
        except PitError as error:
            log.warning("change of %d versions not logged (%s): %s", len(keys), kind, error)
            return
        if applied:
            self._own.add(key)

    async def catch_up(self, *, force: bool = False) -> int:
        """Apply what other processes logged since this index last looked (at most once a
        second unless `force`); how many records. An unreachable store or index raises
        (BackendUnavailableError); any other failure is logged, and the index answers with
        what it has."""
        applied = 0
        for follower in (self.log, self.access_log):
            try:
                applied += await follower.catch_up(force=force)
            except BackendUnavailableError:
                raise
            except PitError as error:
                log.warning("index not caught up with %s: %s", follower.stream, error)
        return applied

    async def access_stats(
        self, keys: list[tuple[str, int]], *, since: datetime | None = None
    ) -> dict[tuple[str, int], AccessStats]:
        """Statistics of every read any machine wrote to the store (and this process's own,
        written first)."""
        await self.accesses.flush()
        await self.catch_up(force=True)
        return await self.store.index.access_stats(keys, since=since)

    async def rebuilt(self, started_us: int) -> None:
        """The index was rebuilt from the manifests starting at `started_us` (µs since the
        epoch): the change log needs reading only from a little before then."""
        bound = self.log.keys.key_at(started_us - int(SETTLE.total_seconds() * 1_000_000))
        try:
            await self.store.index.mark_followed(self.log.stream, [bound], forget_before=bound)
        except PitError as error:
            log.warning("index rebuilt, but where it starts following was not saved: %s", error)

    async def _counted(self, key: str, batch: Sequence[Access]) -> None:
        """A batch of this process's reads is in the store: count it in this index now."""
        try:
            await self.store.index.add_accesses(key, batch)
        except PitError as error:  # read again from the store by the next catch-up
            log.warning("%d reads not counted in the index yet: %s", len(batch), error)
            return
        self._own.add(key)

    async def _apply_changes(self, fetched: Sequence[Fetched]) -> None:
        await changes.apply_changes(self.store, fetched)

    async def _bootstrap(self) -> None:
        await changes.index_every_version(self.store)

    async def _apply_accesses(self, fetched: Sequence[Fetched]) -> None:
        for key, data in fetched:
            if data is None:
                continue
            try:
                batch = parse_batch(data, key)
            except IntegrityError as error:
                log.warning("%s (skipped)", error)
                continue
            await self.store.index.add_accesses(key, batch)
