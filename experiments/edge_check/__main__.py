"""``python -m experiments.edge_check``: the check's command line (:func:`.run.main`)."""

from experiments.edge_check.run import main

main()
