"""Study: the gradient swap, direction × norm of the logit gradient (issue 30).

``python -m experiments.gradient_swap`` runs it (:mod:`.run`); :mod:`.report` draws its
figures and writes its summary from the results JSON alone.
"""
