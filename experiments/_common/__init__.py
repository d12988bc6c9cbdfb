"""What every study shares: the command-line skeleton (:mod:`.cli`), the literature
experiments' training helpers (:mod:`.lit`), verdict rendering and the README row
(:mod:`.verdicts`), and the tool that copies the results' rows into the README
(:mod:`.readme_results`, ``python -m experiments.readme_results``)."""
