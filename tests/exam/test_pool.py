"""ItemPool: ids <-> positions, content codes, enemy groups, validation."""

import numpy as np
import pytest

from examengine.exam.pool import ItemPool
from examengine.irt.params import ItemParams

PARAMS = ItemParams.two_pl([1.0, 1.2, 0.8, 1.5], [0.0, 0.5, -0.5, 1.0])


def test_positions_and_ids_map_both_ways():
    pool = ItemPool.build(["q1", "q2", "q3", "q4"], PARAMS)
    assert pool.position("q3") == 2 and pool.item_id(2) == "q3"
    with pytest.raises(KeyError, match="q9"):
        pool.position("q9")


def test_duplicate_ids_and_unknown_enemies_are_named():
    with pytest.raises(ValueError, match="'q1' appears twice"):
        ItemPool.build(["q1", "q1", "q3", "q4"], PARAMS)
    with pytest.raises(ValueError, match="unknown item id 'zz'"):
        ItemPool.build(["q1", "q2", "q3", "q4"], PARAMS, enemy_groups=[["q1", "zz"]])
    with pytest.raises(ValueError, match="3 item ids for 4"):
        ItemPool.build(["q1", "q2", "q3"], PARAMS)


def test_enemies_of_an_item_are_every_other_member_of_its_groups():
    pool = ItemPool.build(["q1", "q2", "q3", "q4"], PARAMS, enemy_groups=[["q1", "q2"], ["q2", "q3", "q4"]])
    np.testing.assert_array_equal(pool.enemies_of(1), [0, 2, 3])
    np.testing.assert_array_equal(pool.enemies_of(0), [1])
    np.testing.assert_array_equal(pool.enemies_of(3), [1, 2])


def test_content_codes_index_the_sorted_area_names_and_none_is_minus_one():
    pool = ItemPool.build(["q1", "q2", "q3", "q4"], PARAMS,
                          content={"domain": ["D2", "D1", None, "D2"]})
    group = pool.content_group("domain")
    assert group.areas == ("D1", "D2")
    np.testing.assert_array_equal(group.codes, [1, 0, -1, 1])
    assert group.area_of(2) is None and group.area_of(0) == "D2"
