"""``python -m experiments.mlp_depth``: the study's command line (:func:`.run.main`)."""

from experiments.mlp_depth.run import main

main()
