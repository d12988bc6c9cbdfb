"""General figures of any sweep, drawn from its records alone (matplotlib's Agg backend).

* :mod:`softjax.plots.records`: a sweep's records, ``.jsonl``, ``.meta.json`` or summary
  JSON as one summary document (per-cell statistics and the lrs chosen on validation);
* :mod:`softjax.plots.sweep`: ``draw(source, out_dir)`` writes the curves, the loss × lr
  heatmap, the gradients and the stuck-fraction figures;
* :mod:`softjax.plots.gradients`, :mod:`softjax.plots.common`: the gradients figure and
  what the figures share; :mod:`softjax.plots.palette`: one colour per loss.

A study's own figures and prose live beside it, in ``experiments/<study>/report.py``.
"""
