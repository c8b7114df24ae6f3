"""Candidate server apps. Selected by environment:

BENCH_MODE      echo  -> parse ~400 B JSON body, answer ~300 B JSON (no upstream)
                proxy -> parse body, forward raw body upstream via the shared client, return upstream body
BENCH_CLIENT    aiohttp | httpx | httpx2 | raw        (proxy mode)
BENCH_UPSTREAM  e.g. http://127.0.0.1:47381/v1/chat/completions
PROBE_LOG       file to append disconnect-probe outcomes to (GET /stream)
BENCH_SERVER    label written into the probe log

Entry points: asgi_app (raw ASGI), starlette_app, rsgi_app (granian RSGI), aiohttp_main().
"""

import asyncio
import os
import sys

import orjson

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from payload import RESPONSE

MODE = os.environ.get("BENCH_MODE", "echo")
CLIENT = os.environ.get("BENCH_CLIENT", "aiohttp")
UPSTREAM = os.environ.get("BENCH_UPSTREAM", "http://127.0.0.1:47381/v1/chat/completions")
PROBE_LOG = os.environ.get("PROBE_LOG", "/tmp/crossroads_probe.jsonl")
SERVER = os.environ.get("BENCH_SERVER", "?")
JSON_HDR = [(b"content-type", b"application/json")]

_client = None


def _get_client():
    global _client
    if _client is None:  # created lazily inside the server's running loop
        from clients import make_client

        _client = make_client(CLIENT, UPSTREAM)
    return _client


def echo_response(body: bytes) -> bytes:
    req = orjson.loads(body)
    resp = dict(RESPONSE)
    resp["model"] = req["model"]
    return orjson.dumps(resp)


async def proxy_response(body: bytes):
    req = orjson.loads(body)  # a router must at least look at "model"
    assert req["model"]
    return await _get_client()(body)


def probe(outcome, chunks, variant=""):
    with open(PROBE_LOG, "a") as f:
        f.write(
            orjson.dumps(
                {"server": SERVER + variant, "chunks_sent": chunks, "outcome": outcome}
            ).decode()
            + "\n"
        )


CHUNK = b"data: " + b"x" * 200 + b"\n\n"
N_CHUNKS = 100  # 100 x 20 ms = 2 s of streaming


# ---------------------------------------------------------------- raw ASGI
async def asgi_app(scope, receive, send):
    t = scope["type"]
    if t == "http":
        if scope["path"] == "/stream":
            return await _asgi_stream(send)
        if scope["path"] == "/stream-watch":
            return await _asgi_stream_watch(receive, send)
        body = b""
        more = True
        while more:
            m = await receive()
            body += m.get("body", b"")
            more = m.get("more_body", False)
        if MODE == "echo":
            status, out = 200, echo_response(body)
        else:
            status, out = await proxy_response(body)
        await send({"type": "http.response.start", "status": status, "headers": JSON_HDR})
        await send({"type": "http.response.body", "body": out})
    elif t == "lifespan":
        while True:
            m = await receive()
            if m["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif m["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return


async def _asgi_stream(send, variant=""):
    i = 0
    try:
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"text/event-stream")],
            }
        )
        for i in range(N_CHUNKS):
            await send({"type": "http.response.body", "body": CHUNK, "more_body": True})
            await asyncio.sleep(0.02)
        await send({"type": "http.response.body", "body": b""})
        probe("completed all chunks: disconnect NOT noticed by send()", N_CHUNKS, variant)
    except asyncio.CancelledError:
        probe("stream task cancelled", i, variant)
        raise
    except BaseException as e:
        probe(f"send raised {type(e).__module__}.{type(e).__name__}: {e}", i, variant)
        raise


async def _asgi_stream_watch(receive, send):
    """The fix for raw ASGI: a watcher on receive() cancels the stream on http.disconnect."""
    stream = asyncio.ensure_future(_asgi_stream(send, " [receive() watcher]"))

    async def watch():
        while True:
            m = await receive()
            if m["type"] == "http.disconnect":
                stream.cancel()
                return

    w = asyncio.ensure_future(watch())
    try:
        await stream
    except asyncio.CancelledError:
        pass
    finally:
        w.cancel()


# ---------------------------------------------------------------- Starlette
def _make_starlette():
    from starlette.applications import Starlette
    from starlette.responses import Response, StreamingResponse
    from starlette.routing import Route

    async def chat(request):
        body = await request.body()
        if MODE == "echo":
            return Response(echo_response(body), media_type="application/json")
        status, out = await proxy_response(body)
        return Response(out, status_code=status, media_type="application/json")

    async def stream(request):
        async def gen():
            i = 0
            try:
                for i in range(N_CHUNKS):
                    yield CHUNK
                    await asyncio.sleep(0.02)
                probe("completed all chunks: disconnect NOT noticed", N_CHUNKS)
            except asyncio.CancelledError:
                probe("generator cancelled (StreamingResponse disconnect listener)", i)
                raise
            except GeneratorExit:
                probe("generator closed (GeneratorExit)", i)
                raise
            except BaseException as e:
                probe(f"raised {type(e).__name__}: {e}", i)
                raise

        return StreamingResponse(gen(), media_type="text/event-stream")

    return Starlette(
        routes=[Route("/v1/chat/completions", chat, methods=["POST"]), Route("/stream", stream)]
    )


def __getattr__(name):  # starlette_app is built only when a server asks for it
    if name == "starlette_app":
        app = _make_starlette()
        globals()["starlette_app"] = app
        return app
    raise AttributeError(name)


# ---------------------------------------------------------------- granian RSGI
async def rsgi_app(scope, proto):
    body = await proto()
    if MODE == "echo":
        proto.response_bytes(200, [("content-type", "application/json")], echo_response(body))
    else:
        status, out = await proxy_response(body)
        proto.response_bytes(status, [("content-type", "application/json")], out)


# ---------------------------------------------------------------- aiohttp.web
def aiohttp_main(port):
    import uvloop
    from aiohttp import web

    async def chat(request):
        body = await request.read()
        if MODE == "echo":
            return web.Response(body=echo_response(body), content_type="application/json")
        status, out = await proxy_response(body)
        return web.Response(body=out, status=status, content_type="application/json")

    async def stream(request):
        resp = web.StreamResponse(headers={"content-type": "text/event-stream"})
        i = 0
        try:
            await resp.prepare(request)
            for i in range(N_CHUNKS):
                await resp.write(CHUNK)
                await asyncio.sleep(0.02)
            await resp.write_eof()
            probe("completed all chunks: disconnect NOT noticed by write()", N_CHUNKS)
        except asyncio.CancelledError:
            probe("handler task cancelled", i)
            raise
        except BaseException as e:
            probe(f"write raised {type(e).__module__}.{type(e).__name__}: {e}", i)
            raise
        return resp

    app = web.Application()
    app.router.add_post("/v1/chat/completions", chat)
    app.router.add_get("/stream", stream)
    web.run_app(
        app,
        host="127.0.0.1",
        port=port,
        access_log=None,
        print=None,
        backlog=1024,
        loop=uvloop.new_event_loop(),
    )


if __name__ == "__main__":  # python apps.py aiohttp PORT
    assert sys.argv[1] == "aiohttp"
    aiohttp_main(int(sys.argv[2]))
