"""The shared cache fails open: with Redis down, reads miss and writes are dropped."""

import time

import pytest
from redis import Redis

from mall.cache import PAUSE_SECONDS, FailOpenRedisCache

pytestmark = pytest.mark.redis


def cache_on(server):
    return FailOpenRedisCache(server.url, {"OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1}})


def test_works_as_a_redis_cache_while_redis_is_up(private_redis):
    cache = cache_on(private_redis)
    cache.set("a", {"x": 1})
    assert cache.get("a") == {"x": 1}
    assert cache.add("a", 2) is False
    assert cache.add("n", 0) is True
    assert cache.incr("n") == 1
    assert cache.incr("n", 2) == 3
    assert cache.get_many(["a", "missing"]) == {"a": {"x": 1}}
    with pytest.raises(ValueError):
        cache.incr("never-set")


def test_incr_counts_on_in_the_window_it_was_added_for(private_redis):
    # A rate limit's counter: added with its window, then counted up in one round trip
    # (a script), keeping the window; a counter that has expired is not brought back.
    cache = cache_on(private_redis)
    raw = Redis.from_url(private_redis.url)
    assert cache.add("window", 1, 100) is True
    assert [cache.incr("window") for _ in range(3)] == [2, 3, 4]
    assert 90 < raw.ttl(cache.make_key("window")) <= 100
    cache.set("short", 1, 1)
    time.sleep(1.1)
    with pytest.raises(ValueError):
        cache.incr("short")
    assert raw.exists(cache.make_key("short")) == 0


def test_an_outage_is_a_miss_and_the_cache_works_again_after_a_restart(private_redis, caplog):
    cache = cache_on(private_redis)
    cache.set("kept", "before")
    private_redis.stop()

    started = time.monotonic()
    assert cache.get("kept", "default") == "default"
    assert cache.get_many(["kept"]) == {}
    assert cache.set("k", 1) is None
    assert cache.set_many({"k": 1, "j": 2}) == ["k", "j"]
    assert cache.add("k", 1) is False
    assert cache.has_key("k") is False
    assert cache.incr("k", 5) == 5
    assert cache.delete("k") is False
    cache.delete_many(["k"])
    assert "cache unavailable" in caplog.text
    # No retries with backoff: the whole outage above cost well under a second.
    assert time.monotonic() - started < 1

    private_redis.start()
    time.sleep(PAUSE_SECONDS)  # the process leaves Redis alone this long after a failure
    cache.set("after", "yes")
    assert cache.get("after") == "yes"
