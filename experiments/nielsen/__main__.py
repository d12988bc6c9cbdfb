"""``python -m experiments.nielsen``: the study's command line (:func:`.run.main`)."""

from experiments.nielsen.run import main

main()
