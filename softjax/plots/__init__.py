"""Figures drawn from ``results/*.json(l)`` only, so they can be redrawn without retraining.

One module per experiment. Each exposes ``draw(results_path, out_dir) -> list[Path]``
and uses matplotlib's non-interactive Agg backend.
"""
