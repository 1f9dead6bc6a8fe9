"""Redis backends: :mod:`.cache`, the read-through cache of account and subscriber profiles.

(The Redis Streams event bus is a bus, in :mod:`telcoflow.bus.redis_streams`.)
"""

from telcoflow.stores.redis.cache import RedisProfileCache

__all__ = ["RedisProfileCache"]
