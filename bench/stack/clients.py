"""Uniform `post(body) -> (status, bytes)` wrappers around the candidate clients.

make_client(name, url) must be called inside the running event loop.
"""

from urllib.parse import urlsplit

HDRS = {"content-type": "application/json"}


def make_client(name: str, url: str):
    if name == "aiohttp":
        import aiohttp

        session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=0, keepalive_timeout=60),
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=5),
            auto_decompress=False,
        )

        async def post(body):
            async with session.post(url, data=body, headers=HDRS) as r:
                return r.status, await r.read()

        post.close = session.close
        return post

    if name in ("httpx", "httpx2"):
        mod = __import__(name)
        client = mod.AsyncClient(
            limits=mod.Limits(
                max_connections=1024, max_keepalive_connections=1024, keepalive_expiry=60
            ),
            timeout=mod.Timeout(60.0),
            trust_env=False,
        )

        async def post(body):
            r = await client.post(url, content=body, headers=HDRS)
            return r.status_code, r.content

        post.close = client.aclose
        return post

    if name == "raw":
        from rawclient import RawPool

        u = urlsplit(url)
        pool = RawPool(u.hostname, u.port, u.path)
        post = pool.post
        return post

    raise ValueError(name)
