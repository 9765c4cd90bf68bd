"""Python `websockets` as a permessage-deflate client against a pushwire echo server.

Five offers (defaults, no context takeover both ways, windows 9, 10/12, 15 with takeover); for
each, messages of every shape must echo intact. Usage: python3 deflate_client.py ws://HOST:PORT/
"""
import asyncio, sys, os, websockets
from websockets.extensions.permessage_deflate import ClientPerMessageDeflateFactory
async def run(url, factory, label):
    async with websockets.connect(url, max_size=None, extensions=[factory], compression=None) as ws:
        ext = ws.response.headers.get('Sec-WebSocket-Extensions')
        msgs = ["Hello", "", "x"*70000, ("{\"a\":1,\"b\":[1,2,3]}"*1000), "héllo wörld ✓"*300]
        for m in msgs:
            await ws.send(m); r = await ws.recv(); assert r == m, (label, len(m), len(r))
        b = os.urandom(300000)
        await ws.send(b); assert await ws.recv() == b
        await ws.send(iter(["frag1 ", "frag2 "*1000, "frag3"])); assert await ws.recv() == "frag1 "+"frag2 "*1000+"frag3"
        for i in range(200):
            m = "message %d " % i * (i % 50 + 1)
            await ws.send(m); assert await ws.recv() == m
        await ws.ping(b"p")
        print(label, "OK", ext)
async def main(url):
    F = ClientPerMessageDeflateFactory
    await run(url, F(client_max_window_bits=True), "default-offer")
    await run(url, F(server_no_context_takeover=True, client_no_context_takeover=True), "no-takeover-both")
    await run(url, F(server_max_window_bits=9, client_max_window_bits=9), "window9")
    await run(url, F(server_max_window_bits=10, client_max_window_bits=12, client_no_context_takeover=False), "window10-12")
    await run(url, F(server_max_window_bits=15, client_max_window_bits=15, client_no_context_takeover=False), "window15-takeover")
asyncio.run(main(sys.argv[1]))
