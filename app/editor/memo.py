"""One small cache for the editor's derived pictures: the last value made, kept while the
values it was made from stay the same. Each memo belongs to one thread (the one that
calls `get`), so it needs no lock."""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

import numpy as np

T = TypeVar("T")


def same(a: object, b: object) -> bool:
    """Arrays by their contents; numbers and strings by value; anything else (a photo
    edit, a list of styles the document hands out until they change) by identity."""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and a.shape == b.shape and np.array_equal(a, b)
    if isinstance(a, (int, float, str, bytes, type(None))):
        return type(a) is type(b) and a == b
    return a is b


class Memo(Generic[T]):
    """`get(key, make)`: the value `make()` gave for an equal key (see `same`, item by
    item), or a new one. Array keys are copied, so a mask painted later is a new key."""

    def __init__(self) -> None:
        self._key: tuple | None = None
        self._value: T | None = None

    def get(self, key: tuple, make: Callable[[], T]) -> T:
        if self._key is None or len(key) != len(self._key) or not all(map(same, key, self._key)):
            value = make()
            self._key = tuple(k.copy() if isinstance(k, np.ndarray) else k for k in key)
            self._value = value
        return self._value
