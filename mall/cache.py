"""The shared cache on Redis, failing open.

Django's RedisCache raises when Redis cannot be reached, and every page that touches
the cache (sessions, rate limits, the page cache) would answer 500 while Redis
restarts. Everything the shop keeps in the cache can be recomputed, so an outage is
treated as a miss: reads return the default, writes are dropped, `incr` counts from
nothing. Each failure is logged, at most once every LOG_EVERY seconds per cache connection.

An outage must also be quick: redis-py retries a failed command three times with
backoff by default (seconds per call, many calls per request), so the client here
does not retry, and after a failure the process leaves Redis alone for
PAUSE_SECONDS: a request made meanwhile pays nothing for the outage.
"""

import logging
import time
from functools import partial, wraps

from django.core.cache.backends.redis import RedisCache, RedisCacheClient
from redis import Redis
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.retry import Retry

logger = logging.getLogger(__name__)

OUTAGE = (RedisConnectionError, RedisTimeoutError, OSError)
LOG_EVERY = 10.0
PAUSE_SECONDS = 1.0


def _fail_open(fallback):
    """Run the method; on a Redis outage log it and return fallback(*args, **kwargs)."""

    def decorate(method):
        @wraps(method)
        def wrapper(self, *args, **kwargs):
            if time.monotonic() < FailOpenRedisCache._paused_until:
                return fallback(*args, **kwargs)
            try:
                return method(self, *args, **kwargs)
            except OUTAGE as error:
                self._outage(method.__name__, error)
                return fallback(*args, **kwargs)

        return wrapper

    return decorate


def _default(key, default=None, version=None):
    return default


def _nothing(*args, **kwargs):
    return None


def _false(*args, **kwargs):
    return False


def _empty(*args, **kwargs):
    return {}


def _all_failed(data, *args, **kwargs):
    return list(data)


def _delta(key, delta=1, version=None):
    return delta


# Django's incr asks EXISTS, then INCRBY: two round trips, and a key that expires between
# them comes back from INCRBY without its expiry (a rate-limit counter that never ends).
# One script does both at once; nil (false) when there is no key.
INCR_EXISTING = """
if redis.call('EXISTS', KEYS[1]) == 1 then
    return redis.call('INCRBY', KEYS[1], ARGV[1])
end
return false
"""


class NoRetryRedisCacheClient(RedisCacheClient):
    """Django's client, without redis-py's retries, and one Redis object per connection
    pool instead of a new one for every operation (they are thread-safe; building one
    cost more than a small GET on loopback). `incr` is one round trip (INCR_EXISTING)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._client = partial(Redis, retry=Retry(NoBackoff(), 0))
        self._clients = {}
        self._incr_scripts = {}

    def get_client(self, key=None, *, write=False):
        pool = self._get_connection_pool(write)
        client = self._clients.get(id(pool))
        if client is None:
            client = self._clients[id(pool)] = self._client(connection_pool=pool)
        return client

    def incr(self, key, delta):
        client = self.get_client(key, write=True)
        script = self._incr_scripts.get(id(client))
        if script is None:
            script = self._incr_scripts[id(client)] = client.register_script(INCR_EXISTING)
        value = script(keys=[key], args=[delta])
        if value is None:
            raise ValueError(f"Key '{key}' not found.")
        return value


class FailOpenRedisCache(RedisCache):
    """RedisCache whose every operation survives Redis being down (see the module)."""

    _last_logged = 0.0
    _paused_until = 0.0  # for the whole process: every thread's connection is as dead

    def __init__(self, server, params):
        super().__init__(server, params)
        self._class = NoRetryRedisCacheClient

    def _outage(self, operation, error):
        now = time.monotonic()
        FailOpenRedisCache._paused_until = now + PAUSE_SECONDS
        if now - self._last_logged >= LOG_EVERY:
            self._last_logged = now
            logger.warning("cache unavailable, %s treated as a miss: %s", operation, error)

    get = _fail_open(_default)(RedisCache.get)
    get_many = _fail_open(_empty)(RedisCache.get_many)
    has_key = _fail_open(_false)(RedisCache.has_key)
    add = _fail_open(_false)(RedisCache.add)
    set = _fail_open(_nothing)(RedisCache.set)
    set_many = _fail_open(_all_failed)(RedisCache.set_many)
    touch = _fail_open(_false)(RedisCache.touch)
    delete = _fail_open(_false)(RedisCache.delete)
    delete_many = _fail_open(_nothing)(RedisCache.delete_many)
    incr = _fail_open(_delta)(RedisCache.incr)
    clear = _fail_open(_false)(RedisCache.clear)
