"""Generation ids: unguessable, unique, and never repeated across a fork."""

from __future__ import annotations

import os
import re

from crossroads.generation import new_generation_id

ID = re.compile(r"gen-(\d+)-([0-9a-f]{20})")


def test_ids_are_unique_and_well_formed_across_many_refills():
    # 4 KiB of entropy serves ~400 ids: this crosses the refill boundary many times.
    ids = [new_generation_id(1_700_000_000) for _ in range(5_000)]
    assert len(set(ids)) == len(ids)
    assert all(ID.fullmatch(i) and i.startswith("gen-1700000000-") for i in ids)
    # Random, not a counter: the suffixes have no common prefix beyond chance.
    assert len({i[-20:-16] for i in ids}) > 3_000


def test_a_forked_child_never_repeats_its_parents_next_ids():
    new_generation_id()  # the parent holds a buffer with unused randomness
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report its next ids and leave at once
        os.close(read)
        os.write(write, " ".join(new_generation_id(1) for _ in range(50)).encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        child = set(pipe.read().split())
    os.waitpid(pid, 0)
    parent = {new_generation_id(1) for _ in range(50)}
    assert len(child) == 50 and not child & parent
