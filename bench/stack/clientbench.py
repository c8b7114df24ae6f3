"""Part B: cost of one shared keep-alive upstream client.

Usage: python clientbench.py CLIENT URL SECONDS CONCURRENCY
Prints one JSON line: requests/s and client-process CPU us/request for
seq (fresh client), conc (CONCURRENCY workers), seq_after_conc (pool holding CONCURRENCY idle conns).
"""

import asyncio
import sys
import time

import orjson
import uvloop
from clients import make_client
from payload import REQUEST_BODY, RESPONSE_BODY


async def main(name, url, seconds, conc):
    post = make_client(name, url)
    body = REQUEST_BODY

    async def seq_until(deadline):
        n = 0
        clock = time.perf_counter
        while clock() < deadline:
            status, data = await post(body)
            n += 1
        assert status == 200 and data == RESPONSE_BODY, (status, data[:100])
        return n

    async def measure(workers):
        c0, t0 = time.process_time(), time.perf_counter()
        counts = await asyncio.gather(*[seq_until(t0 + seconds) for _ in range(workers)])
        t1, c1 = time.perf_counter(), time.process_time()
        n = sum(counts)
        return {
            "requests": n,
            "rps": n / (t1 - t0),
            "cpu_us_per_req": (c1 - c0) / n * 1e6,
            "cpu_util": (c1 - c0) / (t1 - t0),
        }

    out = {"client": name}
    # 1) sequential on a fresh client (pool holds 1 connection)
    await seq_until(time.perf_counter() + 0.4)
    out["seq"] = await measure(1)
    # 2) `conc` concurrent workers (pool grows to `conc` connections)
    await asyncio.gather(*[seq_until(time.perf_counter() + 0.4) for _ in range(conc)])
    out["conc"] = await measure(conc)
    # 3) sequential again, now with `conc` idle keep-alive connections in the pool
    out["seq_after_conc"] = await measure(1)
    close = getattr(post, "close", None)
    if close:
        await close()
    out["process_cpu_s"] = time.process_time()  # whole process, incl. start-up and warm-up
    print(orjson.dumps(out).decode())


if __name__ == "__main__":
    uvloop.run(main(sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4])))
