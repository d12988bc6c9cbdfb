"""``python -m experiments.reproduce``: the study's command line (:func:`.run.main`)."""

from experiments.reproduce.run import main

main()
