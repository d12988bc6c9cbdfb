"""Study: does ‖∂ℓ/∂z‖ vanish when the softmax saturates on a wrong class? (SPEC §3, §6)

``python -m experiments.saturation`` runs it (:mod:`.run`); :mod:`.report` draws its figures
and writes its summary from the results JSON alone.
"""
