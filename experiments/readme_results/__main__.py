"""``python -m experiments.readme_results [--check]``."""

import sys

from experiments._common.readme_results import main

sys.exit(main())
