"""Name aliases for :func:`~wizardarena.agreement.match_models` from a file:
:func:`load_aliases` (CSV or JSON)."""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from wizardarena.exceptions import ValidationError

__all__ = ["load_aliases"]

_OURS_HEADERS = ("our_name", "ours", "our", "model", "name", "our_model")
_REF_HEADERS = ("reference_name", "reference", "ref", "reference_model", "lmsys")


def load_aliases(
    source: str | os.PathLike[str] | Mapping[str, str | None],
) -> dict[str, str | None]:
    """Read name aliases ``{our name: reference name}`` for
    :func:`~wizardarena.agreement.match_models` from a CSV or JSON file.

    Parameters
    ----------
    source : path or mapping
        A ``.csv`` with two columns ``our_name,reference_name`` (the header is optional;
        an empty reference name leaves the model out, like ``None``), or a ``.json`` holding
        an object ``{our: reference or null}``, a list of ``[our, reference]`` pairs or a
        list of ``{"our_name": ..., "reference_name": ...}``. A mapping is returned as is.

    Returns
    -------
    dict

    Raises
    ------
    ValidationError
        A missing file, not two columns, an empty our name, one of our names twice.
    """
    if isinstance(source, Mapping):
        return {str(k): (None if v is None else str(v)) for k, v in source.items()}
    path = Path(source)
    if not path.is_file():
        raise ValidationError(f"aliases file {str(path)!r} does not exist")
    pairs: list[tuple[int, Any, Any]] = []
    if path.suffix.lower() == ".json":
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ValidationError(f"aliases file {str(path)!r} is not valid JSON: {exc}") from None
        if isinstance(data, dict):
            pairs = [(i, k, v) for i, (k, v) in enumerate(data.items())]
        elif isinstance(data, list):
            for i, item in enumerate(data):
                if isinstance(item, (list, tuple)) and len(item) == 2:
                    pairs.append((i, item[0], item[1]))
                elif isinstance(item, dict):
                    ours = next((item[k] for k in _OURS_HEADERS if k in item), None)
                    ref = next((item[k] for k in _REF_HEADERS if k in item), None)
                    pairs.append((i, ours, ref))
                else:
                    raise ValidationError(
                        f"{path.name}: item {i} must be [our_name, reference_name] or "
                        f"{{'our_name': ..., 'reference_name': ...}}; got {item!r}"
                    )
        else:
            raise ValidationError(
                f"{path.name}: expected a JSON object or list; got {type(data).__name__}"
            )
    else:
        with open(path, encoding="utf-8", newline="") as fh:
            rows = [r for r in csv.reader(fh) if any(c.strip() for c in r)]
        if rows and rows[0] and rows[0][0].strip().lower() in _OURS_HEADERS and (
            len(rows[0]) > 1 and rows[0][1].strip().lower() in _REF_HEADERS
        ):
            rows = rows[1:]
        for i, row in enumerate(rows, start=1):
            if len(row) != 2:
                raise ValidationError(
                    f"{path.name}: every row needs two columns our_name,reference_name; "
                    f"row {i} has {len(row)}: {row}"
                )
            pairs.append((i, row[0], row[1]))
    out: dict[str, str | None] = {}
    for i, ours, ref in pairs:
        name = "" if ours is None else str(ours).strip()
        if not name:
            raise ValidationError(f"{path.name}: row {i} has an empty our_name")
        if name in out:
            raise ValidationError(f"{path.name}: row {i} maps {name!r} twice")
        target = None if ref is None else str(ref).strip()
        out[name] = target or None
    return out
