"""Checking records batch by batch, past a threshold in forked worker processes.

The importing process reads and stores; checking and tokenizing a large input go to two
workers meanwhile (:func:`iter_checked`), with few batches in flight so memory stays flat.
"""

import gc
import itertools
import multiprocessing
import os
from collections import deque
from collections.abc import Iterable
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from typing import Any

from annotator.services.importing import records
from annotator.services.importing.base import Context
from annotator.services.importing.records import add_tokens
from annotator.services.importing.records import prepare_record
from annotator.services.text import tokenize_many

BATCH_SIZE = 500
# Past this many records an import checks and tokenizes the rest in worker processes while
# this one stores: for fewer, starting the workers and sending records across costs more
# than it saves.
POOL_THRESHOLD = 1_000
POOL_WORKERS = 2


def _iter_batches(records: Iterable, size: int) -> Iterator[list]:
    batch = []
    for pair in records:
        batch.append(pair)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _check_batch(batch: list[tuple[Any, object]], context: Context, *, tokens: bool = False) -> list[tuple]:
    """Return ``(location, item or None, problems)`` for each record of a batch."""
    checked = []
    for location, record in batch:
        item, problems = prepare_record(record, context.schema, context.max_chars, context=context)
        if item is not None:
            item.location = location
        checked.append((location, item, problems))
    if tokens:
        add_tokens([item for _, item, _ in checked if item is not None])
    return checked


def iter_checked(records: Iterable, context: Context, batch_size: int, pool_threshold: int) -> Iterator[list]:
    """Yield the records checked batch by batch, in order: see :func:`_check_batch`.

    The first ``pool_threshold`` records (in whole batches, at least one) are checked here,
    and tokenized later only if they are new documents. The rest go to a pool of worker
    processes that check and tokenize them (duplicates too: the workers cannot know them; the
    rules are pure functions of the record and the import's context) while this process
    stores the batches before them. At most two batches per worker are in flight, so memory
    stays flat in the size of the input.
    """
    batches = _iter_batches(records, batch_size)
    for batch in itertools.islice(batches, max(1, -(-pool_threshold // batch_size))):
        yield _check_batch(batch, context)
    if len(os.sched_getaffinity(0)) < 2:  # with one core, workers would only add their overhead
        for batch in batches:
            yield _check_batch(batch, context)
        return
    batch = next(batches, None)
    if batch is None:
        return
    # Workers are forked (Linux): they start at once and share spaCy's tokenizer, loaded here
    # first, instead of each importing spaCy anew (about a second of CPU each).
    tokenize_many(["warm up"], "en")
    pool = ProcessPoolExecutor(POOL_WORKERS, mp_context=multiprocessing.get_context("fork"),
                               initializer=_start_worker, initargs=(context,))
    try:
        pending = deque([pool.submit(_check_in_worker, batch)])
        for batch in batches:
            pending.append(pool.submit(_check_in_worker, batch))
            if len(pending) >= 2 * POOL_WORKERS:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


_worker_context: Context | None = None


def _start_worker(context: Context) -> None:
    global _worker_context
    _worker_context = context
    # The fork copied this process's unused random ids: every worker would hand out the same.
    records.forget_random_ids()
    gc.disable()


def _check_in_worker(batch: list[tuple[Any, object]]) -> list[tuple]:
    return _check_batch(batch, _worker_context, tokens=True)
