"""Tests of spillframe.kernels.join."""

from __future__ import annotations

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spillframe.kernels.join import (
    JOIN_HOWS,
    coerce_join_keys,
    common_key_type,
    hash_join,
    join_output_schema,
)

SETTINGS = settings(max_examples=30, deadline=None)


def reference_join(left, right, how):
    """SQL join of row dicts on 'k' (null keys never match), as sorted tuples."""
    out = []
    matched_right = set()
    for lrow in left:
        partners = [j for j, r in enumerate(right) if lrow["k"] is not None and r["k"] == lrow["k"]]
        matched_right.update(partners)
        if how == "semi":
            out += [(lrow["k"], lrow["x"])] if partners else []
        elif how == "anti":
            out += [] if partners else [(lrow["k"], lrow["x"])]
        else:
            out += [(lrow["k"], lrow["x"], right[j]["x"]) for j in partners]
            if not partners and how in ("left", "outer"):
                out.append((lrow["k"], lrow["x"], None))
    if how in ("right", "outer"):
        out += [(r["k"], None, r["x"]) for j, r in enumerate(right) if j not in matched_right]
    return sorted(out, key=repr)


@st.composite
def join_inputs(draw):
    def side(kind):
        n = draw(st.integers(0, 12))
        keys = draw(st.lists(st.one_of(st.none(), st.integers(0, 4)), min_size=n, max_size=n))
        return pa.table({"k": pa.array(keys, kind), "x": pa.array(range(n), pa.int64())})

    return side(pa.int64()), side(draw(st.sampled_from([pa.int32(), pa.int64(), pa.float64()])))


@SETTINGS
@given(join_inputs(), st.sampled_from(["inner", "left", "right", "outer", "semi", "anti"]))
def test_hash_join_matches_sql_reference(inputs, how):
    left, right = inputs
    result = hash_join(left, right, ["k"], ["k"], how)
    assert result.schema == join_output_schema(left.schema, right.schema, ["k"], ["k"], how)
    if how in ("semi", "anti"):
        rows = [(r["k"], r["x"]) for r in result.to_pylist()]
        assert rows == sorted(rows, key=lambda r: r[1])  # left order kept
    else:
        rows = [(r["k"], r["x"], r["right.x"]) for r in result.to_pylist()]
    expected = reference_join(left.to_pylist(), right.to_pylist(), how)
    assert sorted(rows, key=repr) == expected


@pytest.mark.parametrize("how", JOIN_HOWS)
def test_schema_naming_and_payload_types(how):
    left = pa.table(
        {
            "id": [1, 2, None],
            "x": [[1], None, [3]],
            "s": pa.array(["a", "b", "c"], pa.string_view()),
        }
    )
    right = pa.table(
        {
            "rid": pa.array([2, 2, 5], pa.int32()),
            "x": ["p", "q", "r"],
            "s": pa.array([{"a": 1}, None, {"a": 3}]),
        }
    )
    on = ([], []) if how == "cross" else (["id"], ["rid"])
    result = hash_join(left, right, *on, how)
    schema = join_output_schema(left.schema, right.schema, *on, how)
    assert result.schema == schema
    if how in ("semi", "anti"):
        assert schema == left.schema
    else:
        assert schema.names == ["id", "x", "s", "rid", "right.x", "right.s"]
    counts = {"inner": 2, "left": 4, "right": 3, "outer": 5, "semi": 1, "anti": 2, "cross": 9}
    assert result.num_rows == counts[how]


def test_same_name_keys_merge_and_coalesce():
    left = pa.table({"k": pa.array([1, 2], pa.int32()), "v": ["a", "b"]})
    right = pa.table({"k": pa.array([2, 3], pa.int64()), "v": ["c", "d"]})
    result = hash_join(left, right, ["k"], ["k"], "outer", suffix="_r")
    assert result.schema.names == ["k", "v", "v_r"]
    assert result.schema.field("k").type == pa.int64()
    assert sorted(result.to_pylist(), key=lambda r: r["k"]) == [
        {"k": 1, "v": "a", "v_r": None},
        {"k": 2, "v": "b", "v_r": "c"},
        {"k": 3, "v": None, "v_r": "d"},
    ]
    right_join = hash_join(left, right, ["k"], ["k"], "right")
    assert sorted(right_join.column("k").to_pylist()) == [2, 3]


def test_string_kinds_join_and_zero_equals_minus_zero():
    left = pa.table({"k": pa.array(["a", "b", None], pa.string_view())})
    right = pa.table({"k": pa.array(["b", None], pa.large_string()), "y": [1, 2]})
    assert hash_join(left, right, ["k"], ["k"], "inner").to_pylist() == [{"k": "b", "y": 1}]
    floats = pa.table({"f": [0.0]}), pa.table({"f": [-0.0], "y": [1]})
    assert hash_join(*floats, ["f"], ["f"], "inner").num_rows == 1


def test_empty_and_all_null_sides():
    left = pa.table({"k": pa.nulls(2), "x": [1, 2]})
    right = pa.table({"k": pa.array([1], pa.int64()), "y": [3]})
    assert hash_join(left, right, ["k"], ["k"], "inner").num_rows == 0
    assert hash_join(left, right, ["k"], ["k"], "outer").num_rows == 3
    assert hash_join(left, right, ["k"], ["k"], "anti").num_rows == 2
    empty = right.slice(0, 0)
    assert hash_join(empty, right, ["k"], ["k"], "right").num_rows == 1
    assert hash_join(empty, empty, [], [], "cross").schema.names == ["k", "y", "right.k", "right.y"]


def test_key_coercion_and_errors():
    assert common_key_type(pa.int32(), pa.int64()) == pa.int64()
    assert common_key_type(pa.uint8(), pa.int16()) == pa.int64()
    assert common_key_type(pa.int64(), pa.float32()) == pa.float64()
    assert common_key_type(pa.decimal128(5, 2), pa.int32()) == pa.decimal128(12, 2)
    assert common_key_type(pa.string(), pa.string_view()) == pa.large_string()
    assert common_key_type(pa.timestamp("ms", "UTC"), pa.timestamp("us", "UTC")) == pa.timestamp(
        "us", "UTC"
    )
    assert common_key_type(pa.timestamp("ms", "UTC"), pa.timestamp("ms")) is None
    left, right = coerce_join_keys(
        pa.table({"a": pa.array([1], pa.int32())}), pa.table({"b": [1]}), ["a"], ["b"]
    )
    assert left.schema.field("a").type == right.schema.field("b").type == pa.int64()
    with pytest.raises(TypeError, match=r"left key 'a' \(string\) with right key 'b' \(int64\)"):
        hash_join(pa.table({"a": ["1"]}), pa.table({"b": [1]}), ["a"], ["b"], "inner")
    with pytest.raises(ValueError, match="unknown join type 'full'"):
        hash_join(left, right, ["a"], ["b"], "full")
    with pytest.raises(ValueError, match="cross join takes no join keys"):
        hash_join(left, right, ["a"], ["b"], "cross")


@pytest.mark.parametrize("how", [h for h in JOIN_HOWS if h != "cross"])
@pytest.mark.parametrize("bigger", ["left", "right"])
def test_acero_join_equals_the_index_join(monkeypatch, how, bigger):
    """The direct Acero join (either side as build side) and the index-gathering path
    for payloads Acero cannot carry give the same rows, including the merged,
    coalesced key of right/outer joins, renamed columns and null keys; semi/anti
    (hashing either side) keep exactly the matching left rows, in left order."""
    import numpy as np

    import spillframe.kernels.join as join

    rng = np.random.default_rng(len(how) + (bigger == "left"))
    sizes = {"left": 400, "right": 60} if bigger == "left" else {"left": 60, "right": 400}

    def side(n: int, name: str) -> pa.Table:
        keys = rng.integers(0, 50, n).astype(float)
        keys[rng.random(n) < 0.1] = np.nan
        return pa.table(
            {
                "k": pa.array(keys, from_pandas=True).cast(pa.int32()),
                "j": rng.integers(0, 3, n),
                name: rng.normal(size=n),
                "x": np.arange(n),
            }
        )

    left, right = (
        side(sizes["left"], "lv"),
        side(sizes["right"], "rv").cast(
            pa.schema(
                [("k", pa.int64()), ("j", pa.int64()), ("rv", pa.float64()), ("x", pa.int64())]
            )
        ),
    )
    for left_on, right_on in ((["k"], ["k"]), (["k", "j"], ["k", "j"]), (["x"], ["k"])):
        direct = hash_join(left, right, left_on, right_on, how)
        if how in ("semi", "anti"):  # every path keeps left order
            expected = left.filter(_membership_reference(left, right, left_on, right_on, how))
            assert direct.equals(expected), (left_on, right_on)
            continue
        monkeypatch.setattr(join, "_acero_carries", lambda schema: False)
        expected = hash_join(left, right, left_on, right_on, how)
        monkeypatch.undo()
        assert direct.schema == expected.schema
        key = [(name, "ascending") for name in direct.column_names]
        assert direct.sort_by(key).equals(expected.sort_by(key)), (left_on, right_on)


def _membership_reference(left, right, left_on, right_on, how):
    def rows(table, on):
        return list(zip(*(table.column(name).to_pylist() for name in on)))

    found = {row for row in rows(right, right_on) if None not in row}
    keep = [None not in row and row in found for row in rows(left, left_on)]
    return pa.array(keep if how == "semi" else [not k for k in keep])
