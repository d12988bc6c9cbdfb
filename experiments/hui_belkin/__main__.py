"""``python -m experiments.hui_belkin``: the study's command line (:func:`.run.main`)."""

from experiments.hui_belkin.run import main

main()
