"""Study: square loss on the logits vs cross-entropy, tuned each its own way (Hui & Belkin 2021).

``python -m experiments.hui_belkin`` runs it (:mod:`.run`); :mod:`.report` draws its figures
and writes its summary from the results JSON alone.
"""
