"""Study: do bounded losses resist symmetric label noise?
(Ghosh, Kumar & Sastry 2017; Zhang & Sabuncu 2018)

``python -m experiments.label_noise`` runs it (:mod:`.run`); :mod:`.report` draws its figures
and writes its summary from the results JSON alone.
"""
