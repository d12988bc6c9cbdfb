"""``python -m experiments.calibration``: the study's command line (:func:`.run.main`)."""

from experiments.calibration.run import main

main()
