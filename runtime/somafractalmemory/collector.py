"""The garbage collector's pace in a process that holds a memory service (``wiring`` sets it).

A bulk write allocates a few container objects a memory (items, rows, points, results) that live until
the write ends. With Python's first threshold of 700 allocations, storing 1,000 memories started 11
collections (one in ten of them an older generation's, one in a hundred a walk of every object the
process tracks); with ``YOUNG_THRESHOLD`` it starts one. On a bulk ingest of 100,000 memories
(``bench/ingest_profile.py``, the pace set from the start) the collector took 0.61 s, 6 us a memory
with Python's lock held, which the other threads wait for; at this pace 0.07 s. The older generations
keep Python's ratios, so garbage in reference cycles is still collected, a little later.
"""

import gc

YOUNG_THRESHOLD = 10_000  # net container allocations between two collections of the youngest objects
OLDER_RATIO = 10  # collections of a generation between two of the next one (Python's default)


def pace() -> None:
    gc.set_threshold(YOUNG_THRESHOLD, OLDER_RATIO, OLDER_RATIO)
