"""Study: per-layer gradients of sigmoid, tanh and ReLU MLPs of depth 1-6 on MNIST.

``python -m experiments.mlp_depth`` runs it (:mod:`.run`); :mod:`.report` draws its figures
and writes its summary from the results JSON alone.
"""
