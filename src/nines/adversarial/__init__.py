"""Adversarial search and adversarial training: find the classifier's mistakes, then train them away.

Modules:
    budget: a query-counting wrapper around any classifier (the attack-cost measure).
    result: the find/report records every attack returns.
    saliency: per-token importance for the score (gradient and occlusion).
    candidates: substitution and insertion candidates (embedding neighbours, language models).
    search: greedy and beam token-edit search guided by saliency.
    world_state: attack states in StoryWorld's latent space (a snippet as its latent choices).
    world_moves: the label-preserving moves between them, and their rendering to text and Prompts.
    world_sampling: states sampled straight from the latent space.
    world: label-preserving attacks inside StoryWorld, checked by its exact oracle.
    rewrite: paraphrase attacks and model-written red-teaming with any generator.
    ensemble: max-over-members classifier ensembles.
    runner: any attack by name (``nines attack``).
    twins: training snippets from finds, and their safe twins (hard negatives).
    training: rounds of adversarial training (``nines adversarial-train``).
    plots: the per-round figure of attack cost and failure rates.
"""
