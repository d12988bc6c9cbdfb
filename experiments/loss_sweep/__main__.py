"""``python -m experiments.loss_sweep``: the study's command line (:func:`.run.main`)."""

import sys

from experiments.loss_sweep.run import main

sys.exit(main())
