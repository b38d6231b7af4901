"""The item pool: the arrays the CAT draws from.

``ItemPool`` is the only place where item positions (0..n-1, used by every
array in ``examengine.irt`` and ``examengine.exam``) map to item ids
(strings, as stored). It holds the IRT parameters, each item's content area
in every constraint group (e.g. ``domain``, later ``item_type``), and the
enemy groups (items that must not appear together in one attempt).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
from numpy.typing import NDArray

from examengine.irt.estimation import ThetaGrid, grid_log_probabilities
from examengine.irt.params import FloatArray, ItemParams
from examengine.irt.selection import InformationIndex

IntArray = NDArray[np.intp]


@dataclass(frozen=True)
class ContentGroup:
    """One constraint group: area names and each item's area index (-1: none)."""

    name: str
    areas: tuple[str, ...]
    codes: IntArray

    def area_of(self, position: int) -> str | None:
        code = int(self.codes[position])
        return None if code < 0 else self.areas[code]


@dataclass(frozen=True, eq=False)
class ItemPool:
    """Item ids, parameters, content codes and enemy groups of one pool.

    Build it with :meth:`build`, which validates everything once and names
    the bad value.
    """

    item_ids: tuple[str, ...]
    params: ItemParams
    content_groups: tuple[ContentGroup, ...] = ()
    enemy_groups: tuple[tuple[int, ...], ...] = ()
    _position: dict[str, int] = field(default_factory=dict, repr=False)
    _grid_cache: dict[ThetaGrid, tuple[FloatArray, FloatArray]] = field(default_factory=dict, repr=False)
    #: derived per-policy objects (e.g. MPI constraints), filled by exam.cat
    _policy_cache: dict[object, object] = field(default_factory=dict, repr=False)

    @classmethod
    def build(
        cls,
        item_ids: Sequence[str],
        params: ItemParams,
        *,
        content: Mapping[str, Sequence[str | None]] | None = None,
        enemy_groups: Iterable[Iterable[str]] = (),
    ) -> ItemPool:
        """Validate and build a pool.

        ``content`` maps a constraint-group name to each item's area (in
        pool order; None = the item is in no area of that group).
        ``enemy_groups`` are sets of item ids of which at most one may be
        given in an attempt.
        """
        ids = tuple(str(i) for i in item_ids)
        if len(ids) != params.n_items:
            raise ValueError(f"{len(ids)} item ids for {params.n_items} parameter rows")
        position: dict[str, int] = {}
        for pos, item_id in enumerate(ids):
            if item_id in position:
                raise ValueError(f"item id {item_id!r} appears twice (positions {position[item_id]} and {pos})")
            position[item_id] = pos
        groups = []
        for name, areas_of_items in (content or {}).items():
            if len(areas_of_items) != len(ids):
                raise ValueError(f"content group {name!r}: {len(areas_of_items)} codes for {len(ids)} items")
            areas = tuple(sorted({a for a in areas_of_items if a is not None}))
            index = {a: k for k, a in enumerate(areas)}
            codes = np.array([-1 if a is None else index[a] for a in areas_of_items], dtype=np.intp)
            codes.setflags(write=False)
            groups.append(ContentGroup(str(name), areas, codes))
        enemies = []
        for g, group in enumerate(enemy_groups):
            members = []
            for item_id in group:
                if item_id not in position:
                    raise ValueError(f"enemy group {g}: unknown item id {item_id!r}")
                members.append(position[item_id])
            members = sorted(set(members))
            if len(members) >= 2:
                enemies.append(tuple(members))
        return cls(ids, params, tuple(groups), tuple(enemies), position)

    @classmethod
    def from_params(cls, params: ItemParams, *, prefix: str = "item-") -> ItemPool:
        """A pool with generated ids ``item-00000``... (synthetic banks)."""
        width = max(5, len(str(params.n_items - 1)))
        return cls.build([f"{prefix}{i:0{width}d}" for i in range(params.n_items)], params)

    # -- lookups ---------------------------------------------------------
    def __len__(self) -> int:
        return len(self.item_ids)

    @property
    def n_items(self) -> int:
        return len(self.item_ids)

    def __contains__(self, item_id: object) -> bool:
        return item_id in self._position

    def position(self, item_id: str) -> int:
        """The position of ``item_id``; KeyError names the unknown id."""
        try:
            return self._position[item_id]
        except KeyError:
            raise KeyError(f"item id {item_id!r} is not in the pool") from None

    def item_id(self, position: int) -> str:
        return self.item_ids[position]

    def content_group(self, name: str) -> ContentGroup:
        for g in self.content_groups:
            if g.name == name:
                return g
        raise KeyError(f"the pool has no content group {name!r}")

    @cached_property
    def _enemy_index(self) -> tuple[IntArray, IntArray]:
        """CSR lists: the enemies of position i are indices[indptr[i]:indptr[i+1]]."""
        lists: list[set[int]] = [set() for _ in range(self.n_items)]
        for group in self.enemy_groups:
            for i in group:
                lists[i].update(j for j in group if j != i)
        indptr = np.zeros(self.n_items + 1, dtype=np.intp)
        indptr[1:] = np.cumsum([len(s) for s in lists])
        indices = np.fromiter((j for s in lists for j in sorted(s)), dtype=np.intp, count=int(indptr[-1]))
        return indptr, indices

    def enemies_of(self, position: int) -> IntArray:
        """Positions that may not follow ``position`` in the same attempt."""
        indptr, indices = self._enemy_index
        return indices[indptr[position]:indptr[position + 1]]

    @cached_property
    def information_index(self) -> InformationIndex:
        """The pool sorted by peak information (exact pruned max-info search)."""
        return InformationIndex.build(self.params)

    def grid_tables(self, grid: ThetaGrid) -> tuple[FloatArray, FloatArray]:
        """(log P, log(1 - P)) on ``grid``, each (n_items, Q); computed once per grid."""
        tables = self._grid_cache.get(grid)
        if tables is None:
            tables = grid_log_probabilities(self.params, grid)
            self._grid_cache[grid] = tables
        return tables
