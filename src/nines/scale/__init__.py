"""Scale-out on existing engines: sharded filtering, Ray Data scoring and filtering, accelerate training.

``nines.scale.shards`` has no optional dependency; ``nines.scale.ray_batch`` needs Ray
(``pip install 'nines[ray]'``) and imports it only when used.
"""

from nines.scale.shards import DEFAULT_SHARD_SIZE, filter_in_shards, filter_shard, result_row, shard_seed

__all__ = ["DEFAULT_SHARD_SIZE", "filter_in_shards", "filter_shard", "result_row", "shard_seed"]
