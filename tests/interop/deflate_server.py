"""Python `websockets` as a permessage-deflate server for examples/autobahn_client.

Speaks the Autobahn fuzzingserver's URL protocol (getCaseCount, runCase, updateReports) well
enough for the client example: each case sends messages the client must echo; the report lists
each case as OK or MISMATCH. Usage: python3 deflate_server.py PORT WINDOW_BITS SECONDS
"""
import asyncio, sys, websockets
from websockets.extensions.permessage_deflate import ServerPerMessageDeflateFactory
results = []
async def handler(ws):
    path = ws.request.path
    ext = ws.request.headers.get('Sec-WebSocket-Extensions')
    if path.startswith('/getCaseCount'):
        await ws.send("4"); return
    if path.startswith('/runCase'):
        case = int(path.split('case=')[1].split('&')[0])
        msgs = {1: ["Hello"], 2: ["{\"k\":%d}" % i * 50 for i in range(100)], 3: [b"\x00\x01" * 100000], 4: ["", "é" * 20000]}[case]
        for m in msgs:
            await ws.send(m)
            r = await ws.recv()
            ok = r == m
            if not ok: results.append((case, "MISMATCH")); break
        else:
            results.append((case, "OK", ws.response.headers.get('Sec-WebSocket-Extensions'), ext))
        await ws.close(); return
    if path.startswith('/updateReports'):
        for r in results: print(*r)
        await ws.close(); return
async def main(port, window):
    factory = ServerPerMessageDeflateFactory(server_max_window_bits=window, client_max_window_bits=window, require_client_max_window_bits=False)
    async with websockets.serve(handler, "127.0.0.1", port, extensions=[factory], compression=None, max_size=None):
        await asyncio.sleep(float(sys.argv[3]))
asyncio.run(main(int(sys.argv[1]), int(sys.argv[2])))
