"""Exact JSON encoding of the plain data inside results.

JSON has no NaN, no infinity, no arrays with a dtype and no DataFrames, yet an
audit result holds all of them. Each gets a small tagged form so that a saved
result loads back equal to the original, and so that the file stays strict JSON
(``allow_nan=False``) that any other tool can parse.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

_NONFINITE = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


def encode_float(value: float) -> float | dict[str, str]:
    """Encode one float, tagging the values JSON cannot hold."""
    value = float(value)
    if math.isfinite(value):
        return value
    if math.isnan(value):
        return {"__float__": "NaN"}
    return {"__float__": "Infinity" if value > 0 else "-Infinity"}


def _encode_scalar_list(values: list[Any]) -> list[Any]:
    return [encode_float(v) if isinstance(v, float) else v for v in values]


def to_jsonable(obj: Any) -> Any:
    """Turn numbers, arrays, DataFrames and containers into tagged JSON data."""
    if obj is None or isinstance(obj, (bool, str)):
        return obj
    if isinstance(obj, (int, np.integer)) and not isinstance(obj, bool):
        return int(obj)
    if isinstance(obj, np.bool_):
        return bool(obj)
    if isinstance(obj, (float, np.floating)):
        return encode_float(obj)
    if isinstance(obj, np.ndarray):
        if obj.dtype.kind in "fc":
            data = _encode_scalar_list(obj.astype(float).ravel().tolist())
        elif obj.dtype.kind in "iub":
            data = obj.ravel().tolist()
        else:
            data = [to_jsonable(v) for v in obj.ravel().tolist()]
        return {"__ndarray__": data, "dtype": obj.dtype.str, "shape": list(obj.shape)}
    if isinstance(obj, pd.DataFrame):
        return {
            "__dataframe__": {
                "columns": [to_jsonable(c) for c in obj.columns],
                "index": _encode_index(obj.index),
                "columns_name": obj.columns.name,
                "dtypes": [str(t) for t in obj.dtypes],
                "data": [to_jsonable(obj[c].to_numpy()) for c in obj.columns],
            }
        }
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    raise TypeError(f"Cannot encode an object of type {type(obj).__name__} as JSON.")


def _encode_index(index: pd.Index) -> dict[str, Any]:
    if isinstance(index, pd.RangeIndex):
        return {"range": [index.start, index.stop, index.step], "name": index.name}
    if isinstance(index, pd.MultiIndex):
        return {"tuples": [[to_jsonable(v) for v in t] for t in index],
                "names": [to_jsonable(n) for n in index.names]}
    return {"values": to_jsonable(index.to_numpy()), "name": to_jsonable(index.name),
            "dtype": str(index.dtype)}


def _decode_index(tagged: dict[str, Any]) -> pd.Index:
    if "range" in tagged:
        return pd.RangeIndex(*tagged["range"], name=tagged["name"])
    if "tuples" in tagged:
        return pd.MultiIndex.from_tuples([tuple(from_jsonable(v) for v in t)
                                          for t in tagged["tuples"]], names=tagged["names"])
    values = from_jsonable(tagged["values"])
    return pd.Index(values, name=tagged["name"], dtype=tagged.get("dtype", values.dtype))


def _decode_array(tagged: dict[str, Any]) -> np.ndarray:
    dtype = np.dtype(tagged["dtype"])
    data = tagged["__ndarray__"]
    if dtype.kind in "fc":
        data = [_NONFINITE[v["__float__"]] if isinstance(v, dict) else v for v in data]
        return np.asarray(data, dtype=dtype).reshape(tagged["shape"])
    if dtype.kind == "O":
        out = np.empty(len(data), dtype=object)
        out[:] = [from_jsonable(v) for v in data]
        return out.reshape(tagged["shape"])
    return np.asarray(data, dtype=dtype).reshape(tagged["shape"])


def from_jsonable(obj: Any) -> Any:
    """Invert :func:`to_jsonable`."""
    if isinstance(obj, list):
        return [from_jsonable(v) for v in obj]
    if not isinstance(obj, dict):
        return obj
    if "__float__" in obj:
        return _NONFINITE[obj["__float__"]]
    if "__ndarray__" in obj:
        return _decode_array(obj)
    if "__dataframe__" in obj:
        frame = obj["__dataframe__"]
        columns = [from_jsonable(c) for c in frame["columns"]]
        data = {}
        for column, values, dtype in zip(columns, frame["data"], frame["dtypes"], strict=True):
            data[column] = pd.Series(_decode_array(values)).astype(dtype)
        df = pd.DataFrame(data, columns=columns)
        df.index = _decode_index(frame["index"])
        df.columns.name = frame.get("columns_name")
        return df
    return {k: from_jsonable(v) for k, v in obj.items()}
