"""DataType.python(): Python objects through projections, filters, exchanges, joins and
back, on every runner."""

from __future__ import annotations

import fractions
import pickle

import pyarrow as pa
import pytest

import spillframe as sf
from spillframe import col
from spillframe.datatype import PythonType


class Box:
    """A module-level class, so plain pickle stores it."""

    def __init__(self, value):
        self.value = value

    def __eq__(self, other):
        return isinstance(other, Box) and other.value == self.value


@pytest.mark.parametrize("parts", [1, 3])
def test_python_objects_survive_the_plan(sf_runner, make_df, parts):
    values = [Box(i) if i % 3 else None for i in range(12)]
    df = sf.from_pydict({"k": list(range(12)), "box": values}, num_partitions=parts)
    assert isinstance(df.schema().field("box").type, PythonType)
    kept = df.where(col("k") % 2 == 0).repartition(2, "k")
    other = make_df({"k": list(range(0, 12, 4)), "w": ["a", "b", "c"]})
    with sf.config.configure(partition_bytes=64, broadcast_join_bytes=0):
        joined = kept.join(other, on="k").sort("k").to_pydict()
    assert joined == {"k": [0, 4, 8], "box": [None, Box(4), Box(8)], "w": ["a", "b", "c"]}
    doubled = df.select(
        col("box").apply(lambda b: None if b is None else b.value * 2, sf.DataType.int64())
    )
    assert doubled.to_pydict()["box"] == [None if v is None else v.value * 2 for v in values]


def test_apply_and_udf_return_python_objects(sf_runner, make_df):
    df = make_df({"n": [1, 2, 3], "d": [2, 4, 9]})
    fractions_of = df.select(
        col("n").apply(lambda n: fractions.Fraction(n, 3), sf.DataType.python()).alias("f")
    )
    assert fractions_of.to_pydict() == {"f": [fractions.Fraction(n, 3) for n in (1, 2, 3)]}

    @sf.udf(return_dtype=sf.DataType.python())
    def ratio(n, d):
        return [fractions.Fraction(a, b) for a, b in zip(n.to_pylist(), d.to_pylist())]

    out = df.select(ratio(col("n"), col("d")).alias("r")).to_pydict()["r"]
    assert out == [fractions.Fraction(1, 2), fractions.Fraction(1, 2), fractions.Fraction(1, 3)]


def test_python_type_is_a_pyarrow_type():
    kind = sf.DataType.python()
    assert isinstance(kind, pa.DataType) and kind == PythonType()
    assert kind.storage_type == pa.large_binary()


def test_python_columns_are_not_keys(make_df):
    df = sf.from_pydict({"box": [Box(1)], "k": [1]})
    with pytest.raises(sf.ExpressionTypeError, match="cannot sort by 'box'.*Python objects"):
        df.sort("box")
    with pytest.raises(sf.ExpressionTypeError, match="cannot group by 'box'"):
        df.groupby("box").agg(col("k").sum())
    with pytest.raises(sf.ExpressionTypeError, match="cannot join on 'box'"):
        df.join(df, on="box")
    with pytest.raises(sf.ExpressionTypeError, match="column 'box' holds"):
        df.distinct()
    assert df.distinct("k").count_rows() == 1


def _foreign_python_file(path, values, key: bytes) -> None:
    """A Parquet file as another session (or anybody) could write it: pickles in a
    large_binary column typed spillframe.python under ``key``."""
    import pickle

    import pyarrow.parquet as pq

    field = pa.field(
        "o",
        pa.large_binary(),
        metadata={b"ARROW:extension:name": b"spillframe.python", b"ARROW:extension:metadata": key},
    )
    pq.write_table(
        pa.table({"o": [pickle.dumps(v) for v in values]}, schema=pa.schema([field])), path
    )


class _RunsCode:
    def __reduce__(self):
        return (exec, ("import sys; sys.spillframe_test_code_ran = True",))


def test_reading_a_foreign_file_does_not_unpickle_it(sf_runner, tmp_path):
    import sys

    path = str(tmp_path / "foreign.parquet")
    _foreign_python_file(path, [_RunsCode()], b"someone-else")
    df = sf.read_parquet(path)
    with pytest.raises(pickle.UnpicklingError, match="refusing to unpickle.*trust_python_objects"):
        df.to_pydict()
    assert not hasattr(sys, "spillframe_test_code_ran"), "reading a file ran its code"
    # The pickled bytes stay readable as bytes.
    assert df.select(sf.col("o").cast(sf.DataType.binary())).count_rows() == 1


def test_a_trusted_key_unpickles(tmp_path):
    from spillframe.datatype import trust_python_objects

    path = str(tmp_path / "trusted.parquet")
    _foreign_python_file(path, [{"a": 1}, [2, 3]], b"a-colleague")
    trust_python_objects("a-colleague")
    assert sf.read_parquet(path).to_pydict()["o"] == [{"a": 1}, [2, 3]]


def test_this_session_reads_its_own_python_files(sf_runner, tmp_path):
    df = sf.from_pydict({"x": [1, 2]}).select(
        sf.col("x").apply(lambda v: {"v": v}, sf.DataType.python()).alias("o")
    )
    df.write_parquet(str(tmp_path / "mine"))
    assert sorted(r["v"] for r in sf.read_parquet(str(tmp_path / "mine")).to_pydict()["o"]) == [
        1,
        2,
    ]
