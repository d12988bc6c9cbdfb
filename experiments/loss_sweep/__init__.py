"""Study: which loss trains a classifier on MNIST / Fashion-MNIST, from which init scale?
Softmax regression and MLPs (SPEC §3, §6).

``python -m experiments.loss_sweep`` runs it (:mod:`.run`); :mod:`.report` draws its figures
and writes its summary from the results JSON alone.
"""
