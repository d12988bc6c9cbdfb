"""Study: reproduce every worked example and reference number of the notes (SPEC §5).

``python -m experiments.reproduce`` runs it (:mod:`.run`); :mod:`.report` draws its figures
and writes its summary from the results JSON alone.
"""
