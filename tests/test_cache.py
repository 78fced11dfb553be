"""The Redis cache backend keeps one client per connection pool (statusadmin/cache.py)."""

from __future__ import annotations

import os

import pytest
import redis

from statusadmin.cache import RedisCache

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/14")


@pytest.fixture
def cache():  # type: ignore[no-untyped-def]
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except redis.ConnectionError as exc:
        pytest.skip(f"no Redis at {REDIS_URL}: {exc}")
    backend = RedisCache(REDIS_URL, {"KEY_PREFIX": "test-cache"})
    yield backend
    backend.clear()
    backend.close()


class PooledClientTests:
    def test_it_is_still_a_cache(self, cache) -> None:  # type: ignore[no-untyped-def]
        cache.set("k", {"synced": 1}, 30)
        assert cache.get("k") == {"synced": 1}
        assert cache.get_many(["k", "missing"]) == {"k": {"synced": 1}}
        cache.delete("k")
        assert cache.get("k", "gone") == "gone"

    def test_one_client_serves_every_operation(self, cache, monkeypatch) -> None:  # type: ignore[no-untyped-def]
        built: list[object] = []
        original = redis.Redis.__init__

        def counting(self, *args, **kwargs):  # type: ignore[no-untyped-def]
            built.append(self)
            original(self, *args, **kwargs)

        monkeypatch.setattr(redis.Redis, "__init__", counting)
        for i in range(10):
            cache.set(f"k{i}", i)
            assert cache.get(f"k{i}") == i
        assert len(built) == 1
        assert cache._cache.get_client() is cache._cache.get_client(write=True)
