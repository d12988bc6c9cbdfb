"""What every study's command line does around its own run: the same size flags, data
flags and ``--config``/``--losses`` everywhere, where results go, the --redraw guard,
writing the JSON with its provenance, and the figures.

Each study keeps one size table ``SIZES = {"smoke": {...}, "quick": {...}, "full": {...}}``
(the modes it offers); :func:`size` reads the row of ``--smoke``/``--quick``/full, then the
keys of ``--config FILE.json``, then the study's own flags that were given, in that order.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

import softjax
from softjax.results import provenance, results_dir, write_json

MODES = ("smoke", "quick", "full")
SOURCES = ("auto", "tfds", "idx")
DATA_DIR_ENV = "SOFTJAX_DATA_DIR"
_HELP = {
    "smoke": "seconds: the test suite's size, scratch folder",
    "quick": "a smaller run, scratch folder; not the study's numbers",
}


def parse_args(
    doc: str,
    argv=None,
    extra: Callable[[argparse.ArgumentParser], None] | None = None,
    *,
    modes: Iterable[str] = MODES,
    data: bool = True,
    datasets: Iterable[str] | None = None,
    needs: Iterable[str] = ("mnist",),
    losses: bool = False,
    config: bool = True,
    check: Callable[[argparse.Namespace], None] | None = None,
) -> argparse.Namespace:
    """The flags every study shares, plus what ``extra(parser)`` adds.

    Always ``--quick``/``--smoke`` (those of ``modes`` besides ``"full"``), ``--redraw``
    and ``--out``; ``--config`` unless ``config=False`` (a study without a size table).
    With ``data``: ``--source`` (``auto``: the raw files when the data folder has them,
    tfds otherwise), ``--data-dir`` and, given ``datasets``, ``--dataset`` (default: the
    study's; ``needs``: the datasets ``auto`` looks for when none is chosen). With
    ``losses``: ``--losses`` taking registered names or ``pkg.module:function``
    (:func:`import_loss`).

    ``check(args)`` may raise a ValueError whose message the parser reports (exit 2).

    ``args.mode`` is ``"smoke"``, ``"quick"`` or ``"full"``; ``args.source`` is resolved
    (``idx`` or ``tfds``); ``args.losses`` holds loss names (None when not given).
    """
    modes = tuple(modes)
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    size = parser.add_mutually_exclusive_group()
    for mode in ("quick", "smoke"):
        if mode in modes:
            size.add_argument(f"--{mode}", action="store_true", help=_HELP[mode])
    parser.add_argument("--redraw", action="store_true", help="figures and summary from JSON")
    parser.add_argument("--out", type=Path, default=None, help="results folder")
    if config:
        parser.add_argument(
            "--config", type=Path, default=None, help="JSON object overriding the size's keys"
        )
    if data:
        parser.add_argument("--source", choices=SOURCES, default="auto", help="MNIST loader")
        parser.add_argument("--data-dir", default=None, help=f"default: ${DATA_DIR_ENV}")
        if datasets is not None:
            datasets = tuple(datasets)
            parser.add_argument("--dataset", choices=datasets, default=None)
    if losses:
        parser.add_argument(
            "--losses", nargs="+", default=None, help="registered names or pkg.module:function"
        )
    if extra is not None:
        extra(parser)
    args = parser.parse_args(argv)
    args.quick = getattr(args, "quick", False)
    args.smoke = getattr(args, "smoke", False)
    args.mode = "smoke" if args.smoke else "quick" if args.quick else "full"
    if data:
        names = [args.dataset] if getattr(args, "dataset", None) else list(needs)
        args.source = resolve_source(args.source, args.data_dir, names)
    if losses and args.losses is not None:
        bad = [x for x in args.losses if x not in softjax.LOSSES and ":" not in x]
        if bad:
            parser.error(
                f"--losses: unknown {bad}; expected names from {sorted(softjax.LOSSES)} "
                "or pkg.module:function"
            )
        try:
            args.losses = [import_loss(spec) for spec in args.losses]
        except ValueError as e:
            parser.error(f"--losses: {e}")
    if check is not None:
        try:
            check(args)
        except ValueError as e:
            parser.error(str(e))
    return args


def resolve_source(source: str, data_dir, names: Iterable[str]) -> str:
    """``auto``: ``idx`` when the data folder (``data_dir``, else ``$SOFTJAX_DATA_DIR``)
    has a folder for each of ``names``, else ``tfds``; other sources are kept."""
    if source != "auto":
        return source
    folder = data_dir if data_dir is not None else os.environ.get(DATA_DIR_ENV)
    if folder and all((Path(folder).expanduser() / n).is_dir() for n in names):
        return "idx"
    return "tfds"


def import_loss(spec: str) -> str:
    """A ``--losses`` entry as a loss name: a registered name as it is, or
    ``pkg.module:function``, imported and registered under that name
    (``softjax.register_loss``) so configs, records and figures can name it.

    Raises:
      ValueError: for an unknown name, a module that does not import, or an attribute that
        is missing or not callable.
    """
    if spec in softjax.LOSSES:
        return spec
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise ValueError(
            f"unknown loss {spec!r}; expected a registered name {sorted(softjax.LOSSES)} "
            "or pkg.module:function"
        )
    try:
        module = importlib.import_module(module_name)
    except ImportError as e:
        raise ValueError(f"{spec!r}: cannot import {module_name!r} ({e})") from None
    fn = getattr(module, attr, None)
    if not callable(fn):
        raise ValueError(f"{spec!r}: {module_name} has no callable {attr!r}")
    if spec not in softjax.LOSSES:  # a module may register it on import
        softjax.register_loss(spec, fn)
    return spec


def size(args, table: Mapping[str, Mapping], flags: Mapping[str, object] | None = None) -> dict:
    """The run's size: ``table[args.mode]``, then ``--config``'s keys, then ``flags``
    (the study's own flags, by key; None means not given).

    Raises:
      SystemExit: when the config file is not a JSON object of the table's keys.
    """
    chosen = dict(table[args.mode])
    path = getattr(args, "config", None)
    if path is not None:
        try:
            given = json.loads(Path(path).read_text())
        except (OSError, json.JSONDecodeError) as e:
            raise SystemExit(f"--config {path}: {e}") from None
        if not isinstance(given, dict):
            raise SystemExit(f"--config {path}: expected a JSON object, got {type(given).__name__}")
        unknown = sorted(set(given) - set(chosen))
        if unknown:
            raise SystemExit(f"--config {path}: unknown keys {unknown}; expected {tuple(chosen)}")
        chosen |= given
    chosen |= {k: v for k, v in (flags or {}).items() if v is not None}
    return chosen


def results_path(args, stem: str) -> tuple[Path, Path]:
    """``(out_dir, <stem>[_quick|_smoke].json)``; quick and smoke go to the git-ignored
    scratch folder, so only full runs write the committed results."""
    scratch = args.mode != "full"
    out_dir = Path(args.out) if args.out is not None else results_dir(scratch=scratch)
    suffix = "" if args.mode == "full" else f"_{args.mode}"
    return out_dir, out_dir / f"{stem}{suffix}.json"


def write(path: Path, config: dict, seeds, body: dict, start: float) -> None:
    """The results JSON: provenance (config, seeds, versions, device, commit) first."""
    body["wall_s"] = time.perf_counter() - start
    write_json(path, {"provenance": provenance(config, seeds=list(seeds), argv=sys.argv), **body})
    print(f"wrote {path} in {body['wall_s']:.1f} s")


def finish(args, plots, path: Path, out_dir: Path, run) -> list[Path]:
    """``--redraw`` checks the JSON exists; otherwise ``run()`` writes it. Then figures."""
    if args.redraw:
        require_results(path)
    else:
        run()
    return draw_figures(plots, path, out_dir)


def require_results(results_path: Path) -> None:
    """``--redraw`` draws from existing JSON only; say so clearly when there is none."""
    if not results_path.exists():
        raise SystemExit(f"--redraw: no results at {results_path}; run without --redraw")


def draw_figures(plots, results_path: Path, out_dir: Path) -> list[Path]:
    """Draws an experiment's figures and summary from its results file and lists them."""
    written = plots.draw(results_path, out_dir)
    written.append(plots.write_summary(results_path, out_dir))
    for path in written:
        print(f"wrote {path}")
    return written
