"""Study: does miscalibration grow with depth and width, and how calibrated is each
loss's model? (Guo et al. 2017)

``python -m experiments.calibration`` runs it (:mod:`.run`); :mod:`.analysis` makes its
verdicts as data; :mod:`.report` draws its figures and writes its summary from the results
JSON alone.
"""
