"""``python -m experiments.gradient_swap``: the study's command line (:func:`.run.main`)."""

from experiments.gradient_swap.run import main

main()
