"""``python -m experiments.readme_results``: copy the results' generated text into the
README (the tool itself is :mod:`experiments._common.readme_results`)."""
