"""Beyond one machine: the stages of wizardarena on a Ray cluster (optional extra ``ray``).

One switch: ``engine="ray"`` in Python (``run_arena``, ``build_testset``, ``rank``) and
``--ray`` on the command line. The driver connects to the cluster named by ``ray_address=``
(``--ray-address``), else by the ``RAY_ADDRESS`` environment variable, else starts a local
Ray runtime on this machine. The local path (``engine="local"``, the default) never imports
Ray.

Modules (imported lazily; each needs ``pip install 'wizardarena[ray]'``):

:mod:`wizardarena.ray.arena`
    judge actors, each with its own async client, judging shards of the work list; the
    driver alone writes the judgment store;
:mod:`wizardarena.ray.testset`
    Ray Data stages for reading, cleaning keys, the duplicate group-bys and embedding;
    clustering and selection on the driver;
:mod:`wizardarena.ray.counts`
    the count reduction of a partitioned battle log in Ray Data; the fit on the driver.

See ``docs/scaling.md``.
"""

from __future__ import annotations

import enum
import os
import warnings
from types import ModuleType
from typing import Any

from wizardarena.exceptions import Param, ValidationError, missing_extra, parse_enum

__all__ = ["Engine", "check_engine", "connect", "data_context", "import_ray"]


class Engine(str, enum.Enum):
    """Where a stage runs: in this process (``"local"``) or on a Ray cluster (``"ray"``)."""

    LOCAL = "local"
    RAY = "ray"


def check_engine(engine: Engine | str, *, ray_address: str | None = None,
                 workers: int | None = None) -> Engine:
    """Validate ``engine=`` and the options that only mean something with ``engine="ray"``.

    Raises
    ------
    ValidationError
        An unknown engine, ``ray_address`` or ``workers`` without ``engine="ray"``, or
        ``workers`` that is not a positive integer.
    """
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
