"""``python -m experiments.saturation``: the study's command line (:func:`.run.main`)."""

from experiments.saturation.run import main

main()
