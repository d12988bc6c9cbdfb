"""Study: why deep sigmoid nets train slowly (Glorot & Bengio 2010).

``python -m experiments.glorot`` runs it (:mod:`.run`); :mod:`.report` draws its figures
and writes its summary from the results JSON alone.
"""
