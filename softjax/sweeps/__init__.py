"""Train a grid of configs as a few wide programs: ``vmap`` over models that share batches.

The package's modules, and :func:`sweep` composes them:

* :mod:`softjax.sweeps.runner`: :func:`sweep` itself, the user call;
* :mod:`softjax.sweeps.core`: the pure computing core (``make_sweep``, one program for
  every loss's models in blocks, ``run_group``, sharding): configs in, arrays out; a
  process keeps its last programs across calls (``shared_program``, ``clear_programs``);
* :mod:`softjax.sweeps.mixed`: the blocked loss that runs each loss on its own block;
* :mod:`softjax.sweeps.grid`: the grid's axes checked before anything compiles, and its
  points in run order (the seed convention is stated there);
* :mod:`softjax.sweeps.handshake`: what process 0 alone knows (the lock, the records
  done), told to every process;
* :mod:`softjax.sweeps.storage`: keys, data fingerprints, the JSONL stream, resume and
  the one-writer lock;
* :mod:`softjax.sweeps.stats`: per-cell means with 95% intervals, lr selection on the
  validation split, and one family's verdicts straight from records;
* :mod:`softjax.sweeps.inference`, :mod:`softjax.sweeps.factorial`: paired differences,
  TOST, Holm, four-way verdicts, pooled effects, the 2 × 2 factorial
  (:mod:`softjax.sweeps.tdist` their t distribution);
* :mod:`softjax.sweeps.lr_search`, :mod:`softjax.sweeps.budget`: the lr search and the
  "still improving" budget check.

This file only gathers the public names.
"""

from softjax.data.fingerprint import data_fingerprint
from softjax.results import check_writable
from softjax.sweeps.core import (
    block_layout,
    clear_programs,
    data_key,
    default_mesh,
    init_key,
    init_stack,
    make_sweep,
    padded_size,
    run_group,
    shared_program,
)
from softjax.sweeps.factorial import factorial_2x2, factorial_contrasts
from softjax.sweeps.grid import check_grid, grid_configs
from softjax.sweeps.inference import (
    ALPHA,
    VERDICTS,
    Estimate,
    Verdict,
    decide,
    family_line,
    holm,
    mean_difference,
    paired_estimate,
    pooled,
    replicates_needed,
    sign_test,
)
from softjax.sweeps.runner import sweep
from softjax.sweeps.stats import (
    paired_values,
    paired_verdicts,
    select_best,
    summarize,
    t_quantile_975,
)
from softjax.sweeps.storage import (
    SweepLocked,
    config_key,
    make_records,
    select_grid,
    sweep_lock,
)

__all__ = [
    "ALPHA",
    "VERDICTS",
    "Estimate",
    "Verdict",
    "decide",
    "factorial_2x2",
    "factorial_contrasts",
    "family_line",
    "holm",
    "mean_difference",
    "paired_estimate",
    "paired_values",
    "paired_verdicts",
    "pooled",
    "replicates_needed",
    "sign_test",
    "SweepLocked",
    "block_layout",
    "check_grid",
    "clear_programs",
    "check_writable",
    "config_key",
    "data_fingerprint",
    "data_key",
    "default_mesh",
    "grid_configs",
    "init_key",
    "init_stack",
    "make_records",
    "make_sweep",
    "padded_size",
    "run_group",
    "select_best",
    "select_grid",
    "shared_program",
    "summarize",
    "sweep",
    "sweep_lock",
    "t_quantile_975",
]
