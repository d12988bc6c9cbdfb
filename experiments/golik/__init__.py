"""Study: cross-entropy first, then squared error (Golik, Doetsch & Ney 2013).

``python -m experiments.golik`` runs it (:mod:`.run`); :mod:`.report` draws its figures
and writes its summary from the results JSON alone.
"""
