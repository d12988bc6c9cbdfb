"""``python -m experiments.golik``: the study's command line (:func:`.run.main`)."""

from experiments.golik.run import main

main()
