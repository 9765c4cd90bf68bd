"""https and wss against the ready server, with Python's own TLS (OpenSSL) verifying the
server against the test CA: a WebSocket echo of 9 B and 1 MiB, a subscription over wss that
receives a published event, an event stream and a long-poll over https.

    python3 tests/interop/tls_clients.py PORT CA_PEM      (the server's TLS port, for localhost)
"""
import asyncio
import json
import os
import ssl
import sys
import urllib.request

import websockets


def https(ctx, port, method, target, body=None, timeout=10):
    req = urllib.request.Request(f"https://localhost:{port}{target}", data=body, method=method)
    return urllib.request.urlopen(req, context=ctx, timeout=timeout)


async def main(port, ca):
    run = f"{os.getpid()}"  # topics of this run only
    ctx = ssl.create_default_context(cafile=ca)
    async with websockets.connect(f"wss://localhost:{port}/echo", ssl=ctx, max_size=None) as ws:
        await ws.send("hello wss")
        assert await ws.recv() == "hello wss"
        big = bytes(i % 251 for i in range(1 << 20))
        await ws.send(big)
        assert await ws.recv() == big, "1 MiB came back changed"
    print("ok   wss echo of 9 B and 1 MiB")

    async with websockets.connect(f"wss://localhost:{port}/ws?topic=py-tls-{run}", ssl=ctx) as ws:
        seq = int(https(ctx, port, "POST", f"/publish?topic=py-tls-{run}", b"over wss").read())
        msg = json.loads(await asyncio.wait_for(ws.recv(), 10))
        assert msg["seq"] == seq and msg["data"] == "over wss", msg
    print("ok   wss subscription receives a published event")

    stream = https(ctx, port, "GET", f"/events?topic=py-sse-{run}")
    assert stream.headers["Content-Type"].startswith("text/event-stream")
    seq = int(https(ctx, port, "POST", f"/publish?topic=py-sse-{run}", b"over https").read())
    lines = []
    while not any(line.startswith(b"data: ") for line in lines):
        lines.append(stream.readline())
    assert f"id: {seq}\n".encode() in lines, lines
    assert json.loads(lines[-1][6:])["data"] == "over https", lines
    stream.close()
    print("ok   event stream over https")

    loop = asyncio.get_running_loop()
    poll = loop.run_in_executor(None, lambda: https(ctx, port, "GET", f"/poll?topic=py-lp-{run}&cursor=0").read())
    await asyncio.sleep(0)  # the poll parks; a publish after it is what answers it
    for _ in range(200):
        stats = json.loads(https(ctx, port, "GET", "/stats").read())
        if stats["long_poll"]["connections"] >= 1:
            break
        await asyncio.sleep(0.05)
    else:
        raise AssertionError("the long-poll was not parked within 10 s")
    seq = int(https(ctx, port, "POST", f"/publish?topic=py-lp-{run}", b"parked").read())
    # One event per line (the hub's long-poll body).
    event = json.loads((await asyncio.wait_for(poll, 10)).splitlines()[0])
    assert event["seq"] == seq and event["data"] == "parked", event
    print("ok   long-poll over https")


asyncio.run(main(int(sys.argv[1]), sys.argv[2]))
