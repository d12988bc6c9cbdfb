"""``python -m experiments.label_noise``: the study's command line (:func:`.run.main`)."""

from experiments.label_noise.run import main

main()
