"""Beyond one machine: the Ray engine (optional extra ``ray``).

One switch: ``engine="ray"`` in Python (``run_arena``, ``build_testset``, ``rank``) and
``--ray`` on the command line. The driver connects to the cluster named by ``ray_address=``
(``--ray-address``), else by the ``RAY_ADDRESS`` environment variable, else starts a local
Ray runtime on this machine. The local path (``engine="local"``, the default) never imports
Ray.

This package knows no stage. The entry point of a call (``rank``, ``run_arena``,
``build_testset``, ``read_counts``) turns ``engine="ray"`` into a :class:`RayEngine` (a
connected runtime) once and hands it down; the stage gives it its own functions to run:

:class:`RayEngine`
    the connected runtime: :meth:`~RayEngine.map_items` (one Ray task per item, e.g. a
    Parquet row group counted by :mod:`wizardarena.battles.streams`), :meth:`~RayEngine.gather`
    (a Ray Data dataset's rows on the driver), the compute strategy of ``workers``;
:class:`~wizardarena.ray.pool.ActorPool`
    actors built from a stage's class (the arena's judge actors), fed chunks of work by the
    driver, replaced when their process dies.

Stage functions that run on Ray report bad input as an error row (:func:`error_frame`),
which the driver raises as the original exception. See ``docs/scaling.md``.
"""

from __future__ import annotations

import enum
import os
import pickle
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from types import ModuleType
from typing import Any

import pandas as pd

from wizardarena.exceptions import Param, ValidationError, missing_extra, parse_enum

__all__ = [
    "ERROR_COLUMN",
    "Engine",
    "RayEngine",
    "check_engine",
    "connect",
    "data_context",
    "engine_for",
    "error_frame",
    "gpu_ids",
    "import_ray",
    "resolve",
]

#: the column of a stage function's error row (a pickled exception)
ERROR_COLUMN = "_error"


class Engine(str, enum.Enum):
    """Where a stage runs: in this process (``"local"``) or on a Ray cluster (``"ray"``)."""

    LOCAL = "local"
    RAY = "ray"


def check_engine(engine: Engine | str | RayEngine, *, ray_address: str | None = None,
                 workers: int | None = None) -> Engine:
    """Validate ``engine=`` and the options that only mean something with ``engine="ray"``.

    Raises
    ------
    ValidationError
        An unknown engine, ``ray_address`` or ``workers`` without ``engine="ray"``, or
        ``workers`` that is not a positive integer.
    """
    if isinstance(engine, RayEngine):
        eng = Engine.RAY
    else:
        eng = parse_enum(Engine, engine, "engine")
    if eng is Engine.LOCAL:
        for name, value in (("ray_address", ray_address), ("workers", workers)):
            if value is not None:
                raise ValidationError(Param(name, repr(value)), " only applies on a Ray "
                                      "cluster; add ", Param("engine", "'ray'", cli=""))
    if workers is not None and (not isinstance(workers, int) or isinstance(workers, bool)
                                or workers < 1):
        raise ValidationError(Param("workers"), f" must be an integer >= 1; got {workers!r}")
    return eng


def import_ray(purpose: str) -> ModuleType:
    """``import ray``, or a :class:`~wizardarena.exceptions.MissingExtraError` naming the
    ``ray`` extra and what needed it."""
    try:
        import ray
    except ImportError:
        raise missing_extra("ray", "ray", purpose) from None
    return ray


def connect(ray_address: str | None, purpose: str) -> ModuleType:
    """The ``ray`` module, connected: to ``ray_address``, else ``RAY_ADDRESS``, else a local
    runtime started here (without the dashboard). An already-initialised Ray (``ray.init``
    called by the user) is used as it is."""
    ray = import_ray(purpose)
    if ray.is_initialized():
        return ray
    address = ray_address or os.environ.get("RAY_ADDRESS") or None
    if address:
        ray.init(address=address)
    else:
        ray.init(include_dashboard=False)
    return ray


def data_context() -> Any:
    """Ray Data's current ``DataContext``, created without the deprecation warnings that
    Ray 2.60's own constructor raises about its defaults (``use_push_based_shuffle``,
    ``use_polars``: not settings of ours; under ``-W error`` they would stop every Ray Data
    call)."""
    from ray.data import DataContext

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DeprecationWarning,
                                module=r"ray\.data\.context")
        return DataContext.get_current()


def error_frame(exc: BaseException) -> pd.DataFrame:
    """The one-row frame a stage function running on Ray returns instead of raising: Ray's
    wrapping of a raised exception would keep only its text, and the driver raises this
    one as it is (:meth:`RayEngine.gather`, :meth:`RayEngine.map_items`)."""
    return pd.DataFrame({ERROR_COLUMN: [pickle.dumps(exc)]})


def _raise_error_row(frame: pd.DataFrame) -> None:
    if ERROR_COLUMN in frame.columns:
        raise pickle.loads(frame[ERROR_COLUMN].iloc[0])


def resolve(value: Any) -> Any:
    """On a Ray worker: ``value`` fetched from the object store when it is a reference to
    one (an actor's constructor argument put there once for every actor), else as it is."""
    import ray

    return ray.get(value) if isinstance(value, ray.ObjectRef) else value


def gpu_ids() -> list[int]:
    """On a Ray worker: the GPUs Ray gave it (empty on a CPU-only worker)."""
    import ray

    return [int(g) for g in ray.get_gpu_ids()]


class RayEngine:
    """A connected Ray runtime, handed to a stage by the entry point of a call.

    Parameters
    ----------
    ray_address : str, optional
        The cluster (default ``RAY_ADDRESS``, else a local Ray runtime).
    workers : int, optional
        Tasks (or actors) of each stage at a time (default: Ray's choice, up to the
        cluster's CPUs).
    purpose : str
        What needs Ray, for the message when the extra is missing.

    Attributes
    ----------
    ray : module
        The connected ``ray`` module (for the stages that build Ray Data pipelines).
    workers : int or None
    """

    def __init__(self, *, ray_address: str | None = None, workers: int | None = None,
                 purpose: str = "engine='ray'") -> None:
        self.ray = connect(ray_address, purpose)
        data_context()
        self.workers = workers

    def __repr__(self) -> str:
        return f"RayEngine(workers={self.workers!r}, cpus={self.cpus})"

    @property
    def cpus(self) -> int:
        """CPUs of the cluster (at least 1)."""
        return max(1, int(self.ray.cluster_resources().get("CPU", 1)))

    @property
    def gpus(self) -> int:
        """GPUs of the cluster."""
        return int(self.ray.cluster_resources().get("GPU", 0))

    @property
    def tasks(self) -> Any:
        """The compute strategy of map stages: ``workers`` tasks at a time, or Ray Data's
        choice (None)."""
        if self.workers is None:
            return None
        return self.ray.data.TaskPoolStrategy(size=self.workers)

    def put(self, value: Any) -> Any:
        """``value`` in the object store once (a reference for every task and actor)."""
        return self.ray.put(value)

    def gather(self, ds: Any) -> pd.DataFrame:
        """Every row of the Ray Data dataset ``ds`` here; a stage function's error row
        (:func:`error_frame`) is raised."""
        frames = []
        for b in ds.iter_batches(batch_format="pandas", batch_size=None):
            _raise_error_row(b)
            if len(b):
                frames.append(b)
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()

    def map_items(self, items: Sequence[Mapping[str, Any]],
                  fn: Callable[..., pd.DataFrame], *,
                  fn_kwargs: Mapping[str, Any] | None = None) -> Iterator[pd.DataFrame]:
        """Run ``fn(batch, **fn_kwargs)`` as one Ray task per item (``batch``: a one-row
        frame of the item) and yield the frames it returns as they arrive; an error row is
        raised."""
        ds = self.ray.data.from_items(list(items), override_num_blocks=len(items))
        out = ds.map_batches(fn, batch_size=1, batch_format="pandas", compute=self.tasks,
                             fn_kwargs=dict(fn_kwargs or {}))
        for part in out.iter_batches(batch_format="pandas", batch_size=None):
            _raise_error_row(part)
            yield part


def engine_for(engine: Engine | str | RayEngine, *, ray_address: str | None = None,
               workers: int | None = None, purpose: str = "engine='ray'") -> RayEngine | None:
    """The engine of a call, chosen once at its entry point: None for the local engine, a
    connected :class:`RayEngine` for ``"ray"`` (an engine object passes through as it is).

    Raises
    ------
    ValidationError
        As :func:`check_engine`.
    MissingExtraError
        ``"ray"`` without the ``ray`` extra.
    """
    if isinstance(engine, RayEngine):
        return engine
    if check_engine(engine, ray_address=ray_address, workers=workers) is Engine.LOCAL:
        return None
    return RayEngine(ray_address=ray_address, workers=workers, purpose=purpose)
