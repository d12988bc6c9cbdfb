"""What every experiment CLI does around its own run: the size flags, where results go,
the --redraw guard, writing the JSON with its provenance, and the figures."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from softjax.results import provenance, results_dir, write_json

MODES = ("smoke", "quick", "full")


def parse_args(doc: str, argv=None, extra=None) -> argparse.Namespace:
    """``--quick``/``--smoke``/``--redraw``/``--out``/``--source``/``--data-dir``, plus what
    ``extra(parser)`` adds; ``args.mode`` is ``"smoke"``, ``"quick"`` or ``"full"``."""
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="≤ 2 minutes on 2 cores, scratch")
    size.add_argument("--smoke", action="store_true", help="seconds: the test suite's size")
    parser.add_argument("--redraw", action="store_true", help="figures and summary from JSON")
    parser.add_argument("--out", type=Path, default=None, help="results folder")
    parser.add_argument("--source", choices=("tfds", "idx"), default="idx", help="MNIST loader")
    parser.add_argument("--data-dir", default=None, help="default: $SOFTJAX_DATA_DIR")
    if extra is not None:
        extra(parser)
    args = parser.parse_args(argv)
    args.mode = "smoke" if args.smoke else "quick" if args.quick else "full"
    return args


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
