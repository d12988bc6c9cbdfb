"""What every experiment CLI does around its own run: the --redraw guard and the figures."""

from __future__ import annotations

from pathlib import Path


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
