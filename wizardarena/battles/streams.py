"""Battle logs beyond memory: a partitioned Parquet dataset read batch by batch into counts.

``wa.rank("battles/")`` (a directory) or ``wa.rank("battles/*.parquet")`` (a glob) never
holds the battles: each batch of rows is validated and collapsed to its unique
``(group, model_a, model_b, outcome, weight)`` rows (:func:`piece_counts`, the checks and
the collapse of :class:`~wizardarena.battles.BattleLog`), and a :class:`CountAccumulator`
sums those partial counts under one code table of model names (and of prompts, for
``unit="prompt"``). Memory is bounded by one batch plus the number of unique rows, not by
the number of battles. The result, a :class:`~wizardarena.battles.CountedLog`, has exactly
the counts that reading the files into memory in the same order gives (models sorted by
name, prompts numbered by first appearance, rows in the same order), so the fit, the
bootstrap draws included, is identical.

The files are the dataset's Parquet files in sorted path order (a directory is searched
recursively); partial counts are merged in any order (first appearances are kept as
positions), so ``engine="ray"`` runs the same :func:`piece_counts` on Ray tasks, one per
row group (:func:`count_row_groups`), and merges on the driver: counts are small.

What needs the battles themselves is refused for such a log: online Elo (order), style
control (answers), ``by=`` (split first), and position *consistency* (it pairs each
prompt's verdicts; reported as NaN, the first-slot win rate and the fitted effect are
there).
"""

from __future__ import annotations

import glob
import os
import pickle
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from wizardarena.battles.checks import name_groups, required_columns
from wizardarena.battles.counts import CountedLog, Counts, collapse, counts_from_keys
from wizardarena.battles.log import BattleLog
from wizardarena.battles.schema import CORE_COLUMNS, Vocabulary, vocabulary
from wizardarena.exceptions import ValidationError
from wizardarena.ray import Engine, RayEngine, engine_for, error_frame

__all__ = [
    "CountAccumulator",
    "Dataset",
    "Partial",
    "count_row_groups",
    "dataset_files",
    "is_dataset",
    "open_dataset",
    "piece_counts",
    "ray_counts",
    "read_counts",
]

#: rows per batch of the local reader
BATCH_ROWS = 1 << 20
#: models a dataset may hold (16 bits of the accumulator's keys)
_MAX_MODELS = (1 << 16) - 1
_ONE = np.ones(1)


def is_dataset(source: Any) -> bool:
    """Whether ``source`` names a dataset of files (a directory or a glob pattern) rather
    than one file or an in-memory table."""
    if isinstance(source, Path):
        return source.is_dir()
    if isinstance(source, str):
        return os.path.isdir(source) or any(c in source for c in "*?[")
    return False


def dataset_files(source: str | os.PathLike[str]) -> list[str]:
    """The Parquet files of a directory (recursively) or glob, in sorted path order."""
    text = os.fspath(source)
    if os.path.isdir(text):
        found = [p for p in Path(text).rglob("*") if p.is_file()]
        files = [str(p) for p in found if p.suffix.lower() in (".parquet", ".pq")]
        others = [p.name for p in found if p.suffix.lower() not in (".parquet", ".pq")
                  and not p.name.startswith((".", "_"))]
        where = f"the directory {text!r}"
    else:
        matched = [p for p in glob.glob(text, recursive=True) if os.path.isfile(p)]
        files = [p for p in matched if Path(p).suffix.lower() in (".parquet", ".pq")]
        others = [Path(p).name for p in matched if p not in files]
        where = f"the pattern {text!r}"
    if others:
        raise ValidationError(
            f"{where} holds files that are not Parquet ({sorted(others)[:3]}); a battle log "
            "read as a dataset is Parquet files only (read other formats one file at a time)")
    if not files:
        raise ValidationError(f"{where} matches no Parquet file (*.parquet)")
    return sorted(files)


@dataclass(frozen=True, eq=False)
class Dataset:
    """A battle-log dataset, opened: its Parquet files in sorted path order and each file's
    footer (:class:`pyarrow.parquet.FileMetaData`), read once.

    Attributes
    ----------
    files : tuple of str
    metadata : tuple of FileMetaData
    columns : tuple of str
        The first file's columns (what the log is checked against before reading).
    """

    files: tuple[str, ...]
    metadata: tuple[Any, ...]
    columns: tuple[str, ...]

    @property
    def extra_columns(self) -> list[str]:
        """The optional columns (as :attr:`CountedLog.extra_columns`)."""
        return [c for c in self.columns if c not in CORE_COLUMNS]

    def read_columns(self, vocab: Vocabulary, group: str | None) -> list[str]:
        """The columns to read: those ``vocab`` needs, ``weight`` when any file has it, and
        ``group``; every file must have each of them (checked here, before any row is
        read, so a column only some files have is neither dropped nor half read)."""
        need = required_columns(list(self.columns), vocab)
        weighted = any("weight" in _names(m) for m in self.metadata)
        cols = [*need, *(["weight"] if weighted else [])]
        if group is not None and group not in cols:
            cols.append(group)
        for path, meta in zip(self.files, self.metadata):
            missing = [c for c in cols if c not in _names(meta)]
            if missing:
                raise ValidationError(
                    f"{path} has no column(s) {missing}; every file of a battle-log dataset "
                    f"needs the columns {cols}")
        return cols


def _names(meta: Any) -> list[str]:
    return list(meta.schema.to_arrow_schema().names)


def open_dataset(source: str | os.PathLike[str] | Dataset) -> Dataset:
    """The files of a directory or glob (:func:`dataset_files`) with their footers."""
    if isinstance(source, Dataset):
        return source
    files = dataset_files(source)
    metadata = []
    for path in files:
        try:
            metadata.append(pq.read_metadata(path))
        except (OSError, pa.ArrowException) as exc:
            raise ValidationError(f"could not read {path!r} as Parquet: {exc}") from exc
    return Dataset(tuple(files), tuple(metadata), tuple(_names(metadata[0])))


@dataclass(frozen=True, eq=False)
class Partial:
    """The counts of one piece of a log (a batch or a row group), in the piece's own codes.

    Attributes
    ----------
    piece : int
        Position of the piece in the dataset (files in sorted order, rows in file order).
    counts : Counts
        :meth:`BattleLog.counts` of the piece (its models sorted, its prompts numbered by
        first appearance in the piece).
    groups : ndarray or None
        The piece's prompt values, in first-appearance order (``counts.group`` indexes it).
    """

    piece: int
    counts: Counts
    groups: np.ndarray | None = None


def piece_counts(table: pa.Table, *, outcomes: str | Vocabulary, strong_weight: float,
                 group: str | None, piece: int = 0) -> Partial:
    """Validate one piece of a log (:meth:`BattleLog.from_arrow`, names left for the whole
    log) and collapse it to its unique rows (:meth:`BattleLog.counts`)."""
    log = BattleLog.from_arrow(table, outcomes=outcomes, strong_weight=strong_weight,
                               normalize_names=None)
    c = log.counts(group=group)
    groups = None
    if group is not None:  # the values behind counts' own numbering (first appearance)
        groups = log.group_values(group)
    return Partial(piece, c, groups)


class CountAccumulator:
    """Sums partial counts (:class:`Partial`) under one code table; partials may come in
    any order. :meth:`finish` gives the counts of the whole log.

    Each unique row is held as one int64 key (prompt, model_a, model_b, outcome in
    provisional codes: models and prompts numbered in arrival order), its weight and count.

    Parameters
    ----------
    grouped : bool
        Whether the partials carry a prompt ``group``.
    weighted : bool, default True
        Whether rows may weigh other than 1 (False: weights are not kept).
    compact_rows : int, default 2_000_000
        Buffered partial rows that trigger a merge, or as many as the merged rows when they
        are more (so that merging stays linear overall; memory stays within about twice
        the unique rows).
    """

    def __init__(self, grouped: bool, *, weighted: bool = True,
                 compact_rows: int = 2_000_000) -> None:
        self.grouped = grouped
        self.weighted = weighted
        self.compact_rows = compact_rows
        self.models: dict[str, int] = {}  # name -> provisional code (arrival order)
        self.groups: dict[Any, int] = {}  # prompt -> provisional code
        self.first: list[int] = []  # provisional group code -> piece << 32 | rank
        self._parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        self._buffered = 0
        self._total: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None

    def add(self, part: Partial) -> None:
        """Add one piece's partial counts."""
        c = part.counts
        if len(c) == 0:
            return
        table = np.array([self.models.setdefault(m, len(self.models)) for m in c.models],
                         dtype=np.int64)
        if len(self.models) > _MAX_MODELS:
            raise ValidationError(f"a battle log read as a dataset holds at most "
                                  f"{_MAX_MODELS:,} models; this one has more")
        g = np.zeros(len(c), dtype=np.int64)
        if self.grouped:
            assert part.groups is not None and c.group is not None  # grouped partials
            codes = np.empty(len(part.groups), dtype=np.int64)
            first = self.first
            for rank, value in enumerate(part.groups.tolist()):
                at = (part.piece << 32) | rank
                code = self.groups.get(value)
                if code is None:
                    code = self.groups[value] = len(first)
                    first.append(at)
                elif at < first[code]:
                    first[code] = at
                codes[rank] = code
            g = codes[c.group]
        key = ((((g << 16) | table[c.a]) << 16 | table[c.b]) << 2) | c.outcome.astype(np.int64)
        w = c.weight if self.weighted else _ONE[:0]
        self._parts.append((key, w, c.count))
        self._buffered += len(key)
        if self._buffered >= max(self.compact_rows,
                                 0 if self._total is None else len(self._total[0])):
            self._compact()

    def _compact(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        parts = ([self._total] if self._total is not None else []) + self._parts
        if not parts:
            return np.zeros(0, np.int64), np.zeros(0), np.zeros(0, np.int64)
        key = np.concatenate([p[0] for p in parts])
        w = np.concatenate([p[1] for p in parts])
        cnt = np.concatenate([p[2] for p in parts])
        self._parts, self._buffered = [], 0
        key, ws, cnt = collapse(key, w if self.weighted else None, cnt)
        self._total = (key, _ONE[:0] if ws is None else ws, cnt)
        return self._total

    def finish(self, *, names: tuple[str, str] = ("model_a", "model_b"),
               normalize_names: bool = False) -> Counts:
        """The counts of the whole log, as :meth:`BattleLog.counts` orders them: models
        sorted by name, prompts numbered by first appearance, rows by key then weight."""
        pkey, w, cnt = self._compact()
        if not len(pkey) or int(cnt.sum()) == 0:
            raise ValidationError("battle log is empty: at least one battle is needed")
        if not self.weighted:
            w = np.ones(len(pkey))
        prov = sorted(self.models, key=self.models.__getitem__)  # provisional order
        order = sorted(range(len(prov)), key=lambda k: prov[k])
        models = tuple(prov[k] for k in order)
        remap = np.empty(len(prov), dtype=np.int32)
        remap[order] = np.arange(len(prov), dtype=np.int32)
        mask = (1 << 16) - 1
        o = (pkey & 3).astype(np.int64)
        b = remap[(pkey >> 2) & mask]
        a = remap[(pkey >> 18) & mask]
        rows = (np.bincount(a, weights=cnt, minlength=len(models))
                + np.bincount(b, weights=cnt, minlength=len(models))).astype(np.int64)
        a, b, models = name_groups(models, a, b, names, normalize_names, rows=rows)
        same = np.flatnonzero(a == b)
        if same.size:
            raise ValidationError(
                f"a model cannot battle itself: after merging names that differ only by "
                f"case or spaces, {int(cnt[same].sum())} battles have {models[a[same[0]]]!r} "
                f"against itself")
        m = len(models)
        n_groups = 0
        g = np.zeros(len(pkey), dtype=np.int64)
        if self.grouped:  # prompts numbered by first appearance, as pd.factorize does
            firsts = np.asarray(self.first, dtype=np.int64)
            gmap = np.empty(len(firsts), dtype=np.int64)
            gmap[np.argsort(firsts, kind="stable")] = np.arange(len(firsts))
            g = gmap[pkey >> 34]
            n_groups = len(firsts)
        key = g * (m * m * 4) + (a.astype(np.int64) * m + b) * 4 + o
        # merge rows that name merging made equal, then order as BattleLog.counts does
        key, merged, total = collapse(key, w, cnt)
        assert merged is not None
        return counts_from_keys(tuple(models), key, merged, total, grouped=self.grouped,
                                n_groups=n_groups)


def _batches(ds: Dataset, columns: list[str],
             batch_rows: int) -> Iterable[tuple[str, int, pa.Table]]:
    for path, meta in zip(ds.files, ds.metadata):
        try:
            pf = pq.ParquetFile(path, metadata=meta, read_dictionary=columns)
            start = 0
            for batch in pf.iter_batches(batch_size=batch_rows, columns=columns):
                yield path, start, pa.Table.from_batches([batch])
                start += batch.num_rows
        except (OSError, pa.ArrowException) as exc:
            raise ValidationError(f"could not read {path!r} as Parquet: {exc}") from exc


def located(path: str, start: int, n: int, exc: ValidationError) -> ValidationError:
    """``exc`` (raised on rows ``start .. start + n - 1`` of ``path``) saying where."""
    return ValidationError(
        f"{path}, rows {start}..{start + n - 1} (row numbers below count from {start}): ",
        *exc.parts)


def read_counts(
    source: str | os.PathLike[str] | Dataset,
    *,
    outcomes: str | Vocabulary = Vocabulary.FASTCHAT,
    strong_weight: float = 1.0,
    normalize_names: bool = False,
    group: str | None = None,
    engine: Engine | str | RayEngine = "local",
    ray_address: str | None = None,
    batch_rows: int = BATCH_ROWS,
) -> CountedLog:
    """Read a Parquet dataset (directory or glob) batch by batch into counts.

    Parameters
    ----------
    source : str, PathLike or Dataset
        A directory (searched recursively for ``*.parquet``) or a glob pattern, or the
        :class:`Dataset` :func:`open_dataset` made of one.
    outcomes, strong_weight, normalize_names :
        As :func:`~wizardarena.battles.read_battles`.
    group : str, optional
        The prompt column to count by (``unit="prompt"``).
    engine : {"local", "ray"} or RayEngine, default "local"
        ``"ray"`` (or a connected :class:`~wizardarena.ray.RayEngine`): one Ray task per row
        group counts it where it is read (:func:`count_row_groups`); the merge is on the
        driver.
    ray_address : str, optional
        The Ray cluster (with ``engine="ray"``).
    batch_rows : int, default 1,048,576
        Rows per batch of the local reader.

    Returns
    -------
    CountedLog
    """
    vocab = vocabulary(outcomes)
    if not np.isfinite(strong_weight) or strong_weight <= 0:
        raise ValidationError(f"strong_weight must be a positive number; got {strong_weight!r}")
    ds = open_dataset(source)
    columns = ds.read_columns(vocab, group)
    weighted = "weight" in columns or (vocab is Vocabulary.ARENA_HARD and strong_weight != 1.0)
    acc = CountAccumulator(group is not None, weighted=weighted)
    on_ray = engine_for(engine, ray_address=ray_address,
                        purpose="engine='ray' (battle logs on a Ray cluster)")
    if on_ray is not None:
        ray_counts(on_ray, ds, columns, acc, outcomes=vocab.value,
                   strong_weight=strong_weight, group=group)
    else:
        for piece, (path, start, table) in enumerate(_batches(ds, columns, batch_rows)):
            if table.num_rows == 0:
                continue
            try:
                acc.add(piece_counts(table, outcomes=vocab, strong_weight=strong_weight,
                                     group=group, piece=piece))
            except ValidationError as exc:
                raise located(path, start, table.num_rows, exc) from None
    names = ("left", "right") if vocab is Vocabulary.LEFT_RIGHT else ("model_a", "model_b")
    counts = acc.finish(names=names, normalize_names=normalize_names)
    return CountedLog(counts, group=group, columns=ds.columns)


# ------------------------------------------------------------------------- on a Ray cluster
def count_row_groups(batch: pd.DataFrame, *, columns: list[str], outcomes: str,
                     strong_weight: float, group: str | None) -> pd.DataFrame:
    """Ray task: read each listed row group and collapse it (:func:`piece_counts`); one row
    per piece holding its pickled :class:`Partial`. Bad input comes back as an error row
    (:func:`~wizardarena.ray.error_frame`), raised on the driver as it is."""
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
            return error_frame(exc)
    return pd.DataFrame({"partial": out})


def ray_counts(engine: RayEngine, ds: Dataset, columns: list[str], acc: CountAccumulator, *,
               outcomes: str, strong_weight: float, group: str | None) -> None:
    """Count the files of ``ds`` on Ray into ``acc``: one task per row group, every file's
    row groups numbered in file order (the local reader's order), merged here."""
    pieces: list[dict[str, object]] = []
    for path, meta in zip(ds.files, ds.metadata):
        path = os.path.abspath(path)  # the workers' working directory is not this one
        start = 0
        for rg in range(meta.num_row_groups):
            pieces.append({"piece": len(pieces), "path": path, "row_group": rg,
                           "start": start})
            start += meta.row_group(rg).num_rows
    for part in engine.map_items(pieces, count_row_groups, fn_kwargs={
            "columns": columns, "outcomes": outcomes, "strong_weight": strong_weight,
            "group": group}):
        for blob in part.get("partial", ()):
            acc.add(pickle.loads(blob))
