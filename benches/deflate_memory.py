"""Server memory per compressed WebSocket connection.

Opens N connections to a pushwire echo server (PID given) with Python `websockets`, reads the
server's RSS, sends one ~2 KB JSON message on each, reads RSS again: the growth per connection
is what keeping compression state costs. Usage:
  python3 benches/deflate_memory.py ws://127.0.0.1:9301/ PID 1000 browser-like|client-no-takeover
"""
import asyncio, sys, websockets, json
from websockets.extensions.permessage_deflate import ClientPerMessageDeflateFactory as F
def rss(pid):
    for l in open(f"/proc/{pid}/status"):
        if l.startswith("VmRSS"): return int(l.split()[1])
async def main(url, pid, n, mode):
    fac = {"browser-like": F(client_max_window_bits=True), "client-no-takeover": F(client_max_window_bits=True, client_no_context_takeover=True)}[mode]
    conns = []
    for i in range(n):
        conns.append(await websockets.connect(url, extensions=[fac], compression=None, max_size=None))
    await asyncio.sleep(0.5)
    idle = rss(pid)
    msg = json.dumps([{"id": i, "symbol": "AAPL", "price": 100 + i * 0.25} for i in range(60)])
    for c in conns:
        await c.send(msg)
    for c in conns:
        assert await c.recv() == msg
    await asyncio.sleep(0.5)
    after = rss(pid)
    print(f"{mode}: {n} conns, server RSS idle {idle} KiB, after one message each {after} KiB, +{(after-idle)*1024/n:.0f} B/conn; ext={conns[0].response.headers.get('Sec-WebSocket-Extensions')}")
    for c in conns: await c.close()
asyncio.run(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]))
