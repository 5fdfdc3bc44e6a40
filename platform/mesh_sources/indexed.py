"""A set to draw random members from: the simulators pick a random live customer or title for every
transaction, so picking must not cost a pass over tens of thousands of ids."""

from __future__ import annotations

import random


class IndexedSet:
    """A set of ints with O(1) add, remove and uniform random choice."""

    def __init__(self) -> None:
        self._items: list[int] = []
        self._index: dict[int, int] = {}

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, item: int) -> bool:
        return item in self._index

    def add(self, item: int) -> None:
        if item not in self._index:
            self._index[item] = len(self._items)
            self._items.append(item)

    def discard(self, item: int) -> None:
        position = self._index.pop(item, None)
        if position is None:
            return
        last = self._items.pop()
        if position < len(self._items):
            self._items[position] = last
            self._index[last] = position

    def item(self, position: int) -> int:
        return self._items[position]

    def items(self) -> list[int]:
        return list(self._items)

    def choice(self, rng: random.Random) -> int:
        """A uniformly random member; the set must not be empty."""
        return self._items[rng.randrange(len(self._items))]
