"""Battle logs on Ray: Ray Data counts the row groups where they are read; the fit stays on the
driver, because counts are small.

``wa.rank("/shared/battles/", engine="ray")`` (or ``wizardarena rank DIR --ray``): every
row group of every Parquet file becomes one Ray Data task that reads it and collapses it with
:func:`wizardarena.battle_stream.piece_counts` (the validation and the collapse of the local
path); the partial counts, a few rows per row group, stream back to the driver, where
:class:`~wizardarena.battle_stream.CountAccumulator` merges them under one code table. The
counts, and so the fit, are those of the local path.
"""

from __future__ import annotations

import os
import pickle

import pandas as pd
import pyarrow.parquet as pq

from wizardarena.battle_stream import CountAccumulator, Dataset, located, piece_counts
from wizardarena.exceptions import ValidationError
from wizardarena.ray import connect, data_context

__all__ = ["count_row_groups", "ray_counts"]


def count_row_groups(batch: pd.DataFrame, *, columns: list[str], outcomes: str,
                     strong_weight: float, group: str | None) -> pd.DataFrame:
    """Ray Data stage: read each listed row group and collapse it (``piece_counts``); one
    row per piece holding its pickled :class:`~wizardarena.battle_stream.Partial`.

    Bad input comes back as a one-row frame with the pickled ValidationError in ``error``
    (Ray's wrapping of a raised exception would keep only its text)."""
    out = []
    for piece, path, row_group, start in zip(batch["piece"], batch["path"],
                                            batch["row_group"], batch["start"]):
        try:  # the driver checked every file's columns (Dataset.read_columns)
            pf = pq.ParquetFile(path, read_dictionary=columns)
            table = pf.read_row_group(int(row_group), columns=columns)
            if table.num_rows == 0:
                continue
            try:
                out.append(pickle.dumps(piece_counts(
                    table, outcomes=outcomes, strong_weight=strong_weight, group=group,
                    piece=int(piece))))
            except ValidationError as exc:
                raise located(str(path), int(start), table.num_rows, exc) from None
        except ValidationError as exc:
            return pd.DataFrame({"error": [pickle.dumps(exc)]})
    return pd.DataFrame({"partial": out})


def ray_counts(ds: Dataset, columns: list[str], acc: CountAccumulator, *,
               outcomes: str, strong_weight: float, group: str | None,
               ray_address: str | None) -> None:
    """Count the files of ``ds`` on Ray Data into ``acc`` (one task per row group)."""
    ray = connect(ray_address, "engine='ray' (battle logs on a Ray cluster)")
    data_context()
    pieces: list[dict[str, object]] = []
    for path, meta in zip(ds.files, ds.metadata):
        path = os.path.abspath(path)  # the workers' working directory is not this one
        start = 0
        for rg in range(meta.num_row_groups):
            pieces.append({"piece": len(pieces), "path": path, "row_group": rg,
                           "start": start})
            start += meta.row_group(rg).num_rows
    rows = ray.data.from_items(pieces, override_num_blocks=len(pieces)).map_batches(
        count_row_groups, batch_size=1, batch_format="pandas",
        fn_kwargs={"columns": columns, "outcomes": outcomes, "strong_weight": strong_weight,
                   "group": group})
    for part in rows.iter_batches(batch_format="pandas", batch_size=None):
        if "error" in part.columns:
            raise pickle.loads(part["error"].iloc[0])
        for blob in part["partial"]:
            acc.add(pickle.loads(blob))
