"""Validation and encoding of a log's columns: model names to codes against one sorted model
list, ``winner`` labels to :class:`~wizardarena.battles.schema.Outcome` codes through a
closed vocabulary. Unknown labels, missing or empty names raise; nothing is guessed."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from wizardarena.battles.checks import MAX_SHOWN, show_rows, vocabulary_hint
from wizardarena.battles.schema import LABELS, Outcome, Vocabulary
from wizardarena.exceptions import Param, ValidationError

__all__ = [
    "column_to_arrow",
    "encode_strings",
    "label_outcomes",
    "model_codes",
    "numeric_outcomes",
]


# --------------------------------------------------------------------------- encoding helpers


def encode_strings(arr: pa.ChunkedArray | pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """Dictionary-encode a string column: (codes with -1 for null, unique values)."""
    if isinstance(arr, pa.ChunkedArray):
        if pa.types.is_dictionary(arr.type) and arr.num_chunks > 1:
            arr = arr.unify_dictionaries()
            dictionary = arr.chunk(0).dictionary
            indices = pa.concat_arrays([c.indices for c in arr.chunks])
            return _codes_from_indices(indices), np.asarray(dictionary.to_pylist(), dtype=object)
        if arr.num_chunks == 0:
            arr = pa.array([], type=arr.type)
        else:
            arr = arr.combine_chunks() if arr.num_chunks != 1 else arr.chunk(0)
    if pa.types.is_dictionary(arr.type):
        dictionary = arr.dictionary
        indices = arr.indices
    else:
        if not (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)):
            if pa.types.is_null(arr.type):
                arr = arr.cast(pa.string())
            else:
                raise TypeError(str(arr.type))
        enc = pc.dictionary_encode(arr)
        dictionary, indices = enc.dictionary, enc.indices
    return _codes_from_indices(indices), np.asarray(dictionary.to_pylist(), dtype=object)


def _codes_from_indices(indices: pa.Array) -> np.ndarray:
    codes = indices.to_numpy(zero_copy_only=False)
    if indices.null_count:
        codes = np.where(indices.is_null().to_numpy(zero_copy_only=False), -1, codes)
    return codes.astype(np.int32, copy=False)


def column_to_arrow(values: Any, name: str) -> pa.Array | pa.ChunkedArray:
    if isinstance(values, (pa.Array, pa.ChunkedArray)):
        return values
    series = pd.Series(values)
    if isinstance(series.dtype, pd.CategoricalDtype):
        series = series.astype(object)
    try:
        return pa.array(series, from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise ValidationError(f"column {name!r} could not be read as text: {exc}") from exc


def model_codes(
    col_a: pa.Array | pa.ChunkedArray, col_b: pa.Array | pa.ChunkedArray, names: tuple[str, str]
) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    """Encode two model-name columns against one sorted model list, validating names."""
    encoded = []
    for col, name in zip((col_a, col_b), names):
        try:
            codes, uniq = encode_strings(col)
        except TypeError:
            values = col.to_pylist()
            bad = np.array([i for i, v in enumerate(values) if not isinstance(v, str)])
            raise ValidationError(
                f"column {name!r} must hold model names (text); found non-text values at "
                + show_rows(bad, [values[i] for i in bad[:MAX_SHOWN]])
            ) from None
        nulls = np.flatnonzero(codes < 0)
        if nulls.size:
            raise ValidationError(
                f"column {name!r} has missing (null/NaN) model names at "
                + show_rows(nulls, [None] * min(nulls.size, MAX_SHOWN))
                + "; every battle needs two named models"
            )
        used = np.bincount(codes, minlength=len(uniq)) > 0  # a dictionary may hold unused values
        blank = np.array([not str(u).strip() for u in uniq], dtype=bool) & used
        if blank.any():
            bad_rows = np.flatnonzero(blank[codes])
            raise ValidationError(
                f"column {name!r} has empty model names at "
                + show_rows(bad_rows, [uniq[codes[r]] for r in bad_rows[:MAX_SHOWN]])
            )
        uniq = np.array([u if k else None for u, k in zip(uniq, used)], dtype=object)
        encoded.append((codes, uniq))
    (ca, ua), (cb, ub) = encoded
    models = sorted((set(ua.tolist()) | set(ub.tolist())) - {None})
    pos = {name: k for k, name in enumerate(models)}
    map_a = np.array([pos.get(u, -1) for u in ua.tolist()], dtype=np.int32)
    map_b = np.array([pos.get(u, -1) for u in ub.tolist()], dtype=np.int32)

    def remap(codes: np.ndarray, mapping: np.ndarray) -> np.ndarray:
        if mapping.size == len(models) and np.array_equal(mapping, np.arange(mapping.size)):
            return codes  # the dictionary already is the sorted model list
        return mapping[codes] if codes.size else np.zeros(0, np.int32)

    a, b = remap(ca, map_a), remap(cb, map_b)
    return a, b, tuple(str(m) for m in models)



def label_outcomes(
    col: pa.Array | pa.ChunkedArray, vocab: Vocabulary, strong_weight: float
) -> tuple[np.ndarray, np.ndarray | None]:
    """Map a text winner column through a closed vocabulary; unknown labels raise."""
    table = LABELS[vocab]
    try:
        codes, uniq = encode_strings(col)
    except TypeError:
        values = col.to_pylist()
        bad = np.arange(min(len(values), MAX_SHOWN))
        raise ValidationError(
            "column 'winner' must hold text labels for ", Param("outcomes", repr(vocab.value)),
            f"; expected one of {sorted(table)}; got values of type {col.type} such as "
            + show_rows(bad, [values[i] for i in bad]),
            *vocabulary_hint(set(values), vocab),
        ) from None
    lookup = np.empty(len(uniq) + 1, dtype=np.int8)
    strong = np.zeros(len(uniq) + 1, dtype=bool)
    unknown = []
    for k, label in enumerate(uniq):
        key = label
        if vocab is Vocabulary.ARENA_HARD and isinstance(label, str):
            key = label.strip()
            if key.startswith("[[") and key.endswith("]]"):
                key = key[2:-2].strip()
        hit = table.get(key)
        if hit is None:
            unknown.append(k)
            lookup[k] = -1
        else:
            lookup[k], strong[k] = int(hit[0]), hit[1]
    lookup[-1] = -1  # null
    idx = np.where(codes < 0, len(uniq), codes)
    out = lookup[idx]
    bad_rows = np.flatnonzero(out < 0)
    if bad_rows.size:
        vals = [None if codes[r] < 0 else uniq[codes[r]] for r in bad_rows[:MAX_SHOWN]]
        used = np.unique(codes[codes >= 0])
        raise ValidationError(
            f"column 'winner' must be one of {list(table)} (",
            Param("outcomes", repr(vocab.value)), "); " + show_rows(bad_rows, vals),
            *vocabulary_hint([uniq[k] for k in used], vocab),
        )
    weight = None
    if vocab is Vocabulary.ARENA_HARD and strong_weight != 1.0:
        weight = np.where(strong[idx], float(strong_weight), 1.0)
    return out.astype(np.int8), weight


def numeric_outcomes(col: pa.Array | pa.ChunkedArray) -> np.ndarray:
    if not (pa.types.is_integer(col.type) or pa.types.is_floating(col.type)):
        raise ValidationError(
            "column 'winner' must be numeric (1 = model_a wins, 0 = model_b wins, 0.5 = tie) "
            "for ", Param("outcomes", "'numeric'"), f"; got type {col.type}",
            *vocabulary_hint(set(col.to_pylist()), Vocabulary.NUMERIC),
        )
    values = np.asarray(col.to_numpy(zero_copy_only=False), dtype=float)
    out = np.full(values.shape, -1, dtype=np.int8)
    out[values == 1.0] = Outcome.A
    out[values == 0.0] = Outcome.B
    out[values == 0.5] = Outcome.TIE
    bad = np.flatnonzero(out < 0)
    if bad.size:
        raise ValidationError(
            "column 'winner' must be 1, 0 or 0.5 for ", Param("outcomes", "'numeric'"), "; "
            + show_rows(bad, values[bad[:MAX_SHOWN]].tolist()),
            *vocabulary_hint(set(values[np.isfinite(values)].tolist()),
                                       Vocabulary.NUMERIC),
        )
    return out

