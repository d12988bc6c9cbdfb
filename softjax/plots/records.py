"""Any sweep's records as the one summary document every sweep figure draws from.

:func:`summary_document` accepts what a user has at hand after ``softjax.sweep``:

* the list of records it returned;
* the path of the records file it wrote (``<out_dir>/<name>.jsonl``, one record a line);
* the path of that sweep's provenance file (``<name>.meta.json``): its records file is
  the ``<name>.jsonl`` beside it;
* the path of a summary JSON that already holds ``cells``, ``best`` and ``grid`` (what a
  study writes after :func:`softjax.sweeps.summarize` and :func:`softjax.sweeps.select_best`).

and returns ``{"grid", "cells", "best", ...}``: the per-cell means and 95% intervals over
seeds (``summarize``) and each (loss, init scale)'s lr chosen on validation
(``select_best``), so the figures read test numbers only at the chosen lr. ``grid`` names
the axes the figures lay out (losses in first-seen order, init scales, each loss's lrs,
the seeds) and, when the records carry their config, the model's layer sizes, optimizer,
batch size and epochs.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from softjax.results import read_json, read_jsonl
from softjax.sweeps import select_best, select_grid, summarize

__all__ = ["load_records", "summary_document"]


def load_records(path: str | Path) -> list[dict[str, Any]]:
    """The records of a sweep's ``.jsonl`` file, or of the ``.jsonl`` beside its
    ``.meta.json``.

    Raises:
      ValueError: when ``path`` is neither, or holds no record.
    """
    path = Path(path)
    if path.name.endswith(".meta.json"):
        path = path.with_name(path.name.removesuffix(".meta.json") + ".jsonl")
    if path.suffix != ".jsonl":
        raise ValueError(
            f"path: expected a sweep's records file (.jsonl) or its .meta.json, got {path}"
        )
    if not path.exists():
        raise ValueError(f"path: no records file at {path}")
    records = read_jsonl(path)
    if not records:
        raise ValueError(f"path: {path} holds no record")
    return records


def _loss_key(spec) -> str:
    return json.dumps(spec, sort_keys=True)


def _grid(records: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    losses: dict[str, Any] = {}
    lrs: dict[str, set] = {}
    for r in records:
        spec = r.get("loss_spec", r["loss"])
        key = _loss_key(spec)
        losses.setdefault(key, spec)
        lrs.setdefault(key, set()).add(r["lr"])
    grid: dict[str, Any] = {
        "losses": list(losses.values()),
        "init_scales": sorted({r["init_scale"] for r in records}),
        "lrs_by_loss": {
            (s if isinstance(s, str) else k): sorted(lrs[k]) for k, s in losses.items()
        },
        "seeds": sorted({(r.get("seed"), r.get("data_seed")) for r in records}, key=str),
    }
    config = records[0].get("config") or {}
    for field in ("sizes", "optimizer", "batch_size", "epochs"):
        if config.get(field) is not None:
            grid[field] = config[field]
    return grid


def summary_document(
    source, *, grid: Mapping[str, Any] | None = None, metric: str = "val_accuracy"
) -> dict[str, Any]:
    """The summary document of a sweep (see the module docstring for ``source``).

    Args:
      source: records (a sequence of dicts), or a path to a ``.jsonl``, ``.meta.json`` or
        summary ``.json`` file; a document already holding ``cells``, ``best`` and
        ``grid`` is returned as it is.
      grid: passed to :func:`softjax.sweeps.summarize` to keep only that grid's records
        (a records file appended to by several sweeps).
      metric: the validation metric the lr is chosen by (``select_best``).

    Raises:
      ValueError: when ``source`` is none of these, or holds no record.
    """
    if isinstance(source, str | Path):
        path = Path(source)
        if path.suffix == ".json" and not path.name.endswith(".meta.json"):
            document = read_json(path)
            missing = [k for k in ("grid", "cells", "best") if k not in document]
            if missing:
                raise ValueError(
                    f"source: {path} is not a sweep summary (no {missing}); pass the "
                    "sweep's .jsonl records file or its .meta.json"
                )
            return document
        source = load_records(path)
    if isinstance(source, Mapping):
        if all(k in source for k in ("grid", "cells", "best")):
            return dict(source)
        raise ValueError(
            "source: expected records, a path, or a summary with 'grid', 'cells' and "
            f"'best'; got a mapping with keys {sorted(source)}"
        )
    records = list(source)
    if not records:
        raise ValueError("source: no records to draw")
    if grid is not None:
        records = select_grid(records, dict(grid))
    summary = summarize(records)
    return {"grid": _grid(records), **summary, "best": select_best(summary, metric)}
