"""What the literature studies on :func:`softjax.sweeps.lr_search.search_lrs` share
(golik, hui_belkin): the lr a choice trains at and its choice in words.

Kept apart from :mod:`experiments._common.lit` so that the loss study, which imports that
module, does not go stale (``python -m experiments.provenance``) when these change.
"""

from __future__ import annotations


def chosen_lr(choice: dict, scores: dict) -> float | None:
    """An arm's lr for its finals: the search's choice (an ``LrChoice`` dict), else (no
    lr trains) the lr of the best finite validation score among ``scores`` (lr → mean
    score, None when diverged), so an arm that cannot train is measured, not dropped;
    None when every lr diverged."""
    if choice["lr"] is not None:
        return choice["lr"]
    finite = {lr: s for lr, s in scores.items() if s is not None}
    return max(finite, key=finite.get) if finite else None


def choice_text(choice: dict) -> str:
    """An ``LrChoice`` dict in words: ``lr 0.1 (interior)``, ``lr 0.3 (edge: lower 0.178
    trains, upper 0.562 diverged)``, or ``no lr trains (tried 6: 0.01 … 3.16)``."""
    if choice["lr"] is None:
        return choice["reason"]
    if choice["verdict"] == "interior":
        return f"lr {choice['lr']:.3g} (interior)"
    return f"lr {choice['lr']:.3g} ({choice['reason']})"


def search_scores(search: dict, arm) -> dict:
    """``{lr: score}`` of one arm from an ``LrSearch.as_dict()``'s history (``arm`` as
    stored, lists for tuples)."""
    return {
        r["lr"]: r["score"]
        for r in search["history"]
        if r["arm"] == arm or (isinstance(r["arm"], list | tuple) and list(r["arm"]) == list(arm))
    }
