"""Study: the learning slowdown of the quadratic cost, and cross-entropy's cure.

``python -m experiments.nielsen`` runs it (:mod:`.run`); :mod:`.report` draws its figures
and writes its summary from the results JSON alone.
"""
