import sys

from experiments.provenance.report import main

sys.exit(main())
