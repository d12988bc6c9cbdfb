"""Study: do bounded losses resist memorising noisy labels, which CCE suffers once a net
fits its training set? (Ghosh, Kumar & Sastry 2017; Zhang & Sabuncu 2018)

``python -m experiments.label_noise`` runs it (:mod:`.run`); :mod:`.analysis` makes its
verdicts as data; :mod:`.report` draws its figure and writes its summary from the results
JSON alone.
"""
