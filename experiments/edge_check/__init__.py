"""Does a committed verdict rest on an lr at a stability edge? (:mod:`.run`)"""
