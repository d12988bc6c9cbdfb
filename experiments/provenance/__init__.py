"""Which committed results are current: each results file's commit against HEAD's code.

``python -m experiments.provenance`` writes ``results/provenance.md`` (the README copies it
into a generated block). It reports and never fails: later code changes must not block
landing until the results are re-run.
"""
