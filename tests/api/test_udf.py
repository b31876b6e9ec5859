"""UDFs: batches, return types, resource options, class UDFs and Expression.apply."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

import spillframe as sf
from spillframe import col


@sf.udf(return_dtype=sf.DataType.float64())
def halve(x: sf.Series) -> np.ndarray:
    return x.to_numpy() / 2


def test_function_udf_over_partitions(sf_runner, make_df):
    df = make_df({"x": list(range(10))}, num_partitions=3)
    result = df.with_column("h", halve(col("x")))
    assert result.to_pydict()["h"] == [v / 2 for v in range(10)]
    assert result.schema().field("h").type == pa.float64()


def test_batch_size_bounds_each_call(sf_runner, make_df):
    @sf.udf(return_dtype=sf.DataType.int64(), batch_size=4)
    def batch_len(x):
        return [len(x)] * len(x)

    sizes = make_df({"x": list(range(10))}).select(batch_len(col("x"))).to_pydict()["x"]
    assert sizes == [4] * 8 + [2] * 2


@pytest.mark.parametrize("kind", ["list", "arrow", "numpy", "series"])
def test_return_kinds(sf_runner, make_df, kind):
    @sf.udf(return_dtype=sf.DataType.int64())
    def plus_one(x):
        values = [v + 1 for v in x.to_pylist()]
        return {
            "list": values,
            "arrow": pa.array(values),
            "numpy": np.array(values),
            "series": sf.Series(pa.array(values)),
        }[kind]

    assert make_df({"x": [1, 2]}).select(plus_one(col("x"))).to_pydict() == {"x": [2, 3]}


def test_keyword_arguments_are_passed(sf_runner, make_df):
    @sf.udf(return_dtype=sf.DataType.string())
    def tag(x, prefix):
        return [f"{prefix}{v}" for v in x.to_pylist()]

    out = make_df({"x": [1]}).select(tag(col("x"), prefix="id-")).to_pydict()
    assert out == {"x": ["id-1"]}


def test_wrong_length_and_type_are_explained(make_df):
    @sf.udf(return_dtype=sf.DataType.int64())
    def short(x):
        return [1]

    @sf.udf(return_dtype=sf.DataType.int64())
    def words(x):
        return ["a"] * len(x)

    with pytest.raises(ValueError, match="UDF 'short' returned 1 values for a batch of 3"):
        make_df({"x": [1, 2, 3]}).select(short(col("x"))).collect()
    with pytest.raises(TypeError, match="UDF 'words' returned values that are not int64"):
        make_df({"x": [1, 2, 3]}).select(words(col("x"))).collect()


def test_override_options_returns_a_new_udf():
    bigger = halve.override_options(memory_bytes=4 << 30, num_cpus=2)
    assert bigger.resources.memory_bytes == 4 << 30 and bigger.resources.num_cpus == 2
    assert halve.resources.memory_bytes == 0
    with pytest.raises(ValueError, match="memory_bytes must be an int >= 0"):
        halve.override_options(memory_bytes=-1)


def test_resource_request_reaches_the_plan(make_df, capsys):
    big = halve.override_options(memory_bytes=3 << 20)
    make_df({"x": [1.0]}).with_column("h", big(col("x"))).explain()
    assert "(declared 3.0 MiB)" in capsys.readouterr().out


class Model:
    builds = 0

    def __init__(self, scale: int = 1):
        type(self).builds += 1
        self.scale = scale

    def __call__(self, x):
        return [v * self.scale for v in x.to_pylist()]


def test_class_udf_builds_state_once_per_slot(make_df):
    Model.builds = 0
    model = sf.udf(return_dtype=sf.DataType.int64(), concurrency=1)(Model).with_init_args(10)
    df = make_df({"x": list(range(20))}, num_partitions=5)
    assert df.select(model(col("x"))).to_pydict()["x"] == [v * 10 for v in range(20)]
    assert Model.builds == 1


def test_udf_argument_errors():
    with pytest.raises(TypeError, match="return_dtype must be a pyarrow DataType"):
        sf.udf(return_dtype="int64")
    with pytest.raises(TypeError, match="concurrency= applies to class UDFs only"):
        sf.udf(return_dtype=pa.int64(), concurrency=2)(lambda x: x)
    with pytest.raises(TypeError, match="takes expressions as positional arguments"):
        halve(3)


def test_apply_is_row_wise(sf_runner, make_df):
    df = make_df({"s": ["a", None, "abc"]}, num_partitions=2)
    out = df.select(col("s").apply(lambda v: None if v is None else v * 2, pa.string()))
    assert out.to_pydict() == {"s": ["aa", None, "abcabc"]}
