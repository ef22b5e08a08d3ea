"""Shards of a file list for cluster jobs (`kavan keypoints --shard`, `kavan predict --shard`): ``--shard i/n``
takes the items whose CRC-32 (of the id or path, UTF-8) modulo n is i − 1. The assignment depends on the item
alone, so adding or removing files never moves the others to another shard, and the n shards together hold every
item exactly once."""

from __future__ import annotations

import zlib

from kavan.core.errors import KavanError


def parse_shard(text: str) -> tuple[int, int]:
    """``"i/n"`` (1 <= i <= n) to (i, n)."""
    index, sep, count = text.partition("/")
    try:
        i, n = int(index), int(count)
    except ValueError:
        i = n = 0
    if not sep or n < 1 or not 1 <= i <= n:
        raise KavanError(f"--shard must look like i/n with 1 <= i <= n (e.g. 2/8), got {text!r}")
    return i, n


def in_shard(key: str, shard: tuple[int, int]) -> bool:
    """Whether ``key`` (an id or a path) belongs to shard i of n: CRC-32 of its UTF-8 bytes, modulo n, is i − 1."""
    i, n = shard
    return zlib.crc32(key.encode("utf-8", "surrogateescape")) % n == i - 1
