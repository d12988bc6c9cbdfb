"""``python -m experiments.glorot``: the study's command line (:func:`.run.main`)."""

from experiments.glorot.run import main

main()
