"""Data-parallel classifier training's old import path: it is :mod:`nines.classify.accel`.

Moved down into the classifier's package because ``train_classifier`` uses it, and the classifier
must not import :mod:`nines.scale`, whose Ray and shard runners are built on the classifier.
"""

from nines.classify.accel import gather_logits, is_main_process, launched_world_size

__all__ = ["gather_logits", "is_main_process", "launched_world_size"]
