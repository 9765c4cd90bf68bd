"""Published text arrives unchanged on every transport, decoded by a JSON parser that is not
ours (Python's json): random UTF-8 bodies -- every control character, quotes, backslashes,
U+2028/U+2029, astral characters -- published to the ready server, then read back through
Server-Sent Events, WebSocket, long-polling and short polling, and compared exactly.

    python3 tests/interop/json_roundtrip.py 127.0.0.1:PORT [COUNT] [SEED]
"""

import http.client
import json
import random
import sys

from websockets.sync.client import connect

host, port = sys.argv[1].split(":")
count = int(sys.argv[2]) if len(sys.argv) > 2 else 300
seed = int(sys.argv[3]) if len(sys.argv) > 3 else 1
print("json round trip: seed %d (pass it as the third argument to repeat this run)" % seed)
rng = random.Random(seed)

POOL = (
    [chr(c) for c in range(0x20)]
    + ['"', "\\", "/", "\u007f", "\u0085", "\u00a0", "\u2028", "\u2029", "\ufeff", "\ufffd"]
    + ["é", "€", "𝄞", "😀", "\U0010fffd", "a", " ", "{", "}", ":", ","]
)


def random_body():
    n = rng.choice([0, 1, 2, 5, 20, 200, 3000])
    if rng.random() < 0.2:
        # any scalar value but surrogates
        chars = []
        while len(chars) < n:
            c = rng.randrange(0x110000)
            if not 0xD800 <= c <= 0xDFFF:
                chars.append(chr(c))
        return "".join(chars)
    return "".join(rng.choice(POOL) for _ in range(n))


def request(method, target, body=None):
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    conn.request(method, target, body=body)
    resp = conn.getresponse()
    data = resp.read()
    conn.close()
    return resp.status, data


topic = "json-%d" % rng.randrange(1 << 30)
status, start = request("POST", "/publish?topic=" + topic, b"start")
assert status == 200, (status, start)
cursor = int(start)

# Subscribers from the start cursor, opened before the bodies are published.
sse = http.client.HTTPConnection(host, int(port), timeout=30)
sse.request("GET", "/events?topic=%s&lastEventId=%d" % (topic, cursor))
sse_resp = sse.getresponse()
assert sse_resp.status == 200, sse_resp.status
bodies = [random_body() for _ in range(count)]


def check(transport, lines):
    assert len(lines) == count, (transport, len(lines), count)
    for i, (line, body) in enumerate(zip(lines, bodies)):
        event = json.loads(line)
        if event["data"] != body:
            raise AssertionError("%s event %d: sent %r, got %r" % (transport, i, body, event["data"]))


def poll_all(wait):
    lines, at = [], cursor
    while len(lines) < count:
        status, body = request("GET", "/poll?topic=%s&cursor=%d%s" % (topic, at, wait))
        assert status == 200, status
        got = body.decode("utf-8").split("\n")[:-1]
        lines += got
        at = json.loads(got[-1])["seq"]
    return lines


with connect("ws://%s:%s/ws?topic=%s&cursor=%d" % (host, port, topic, cursor), max_size=None) as ws:
    for body in bodies:
        status, answer = request("POST", "/publish?topic=" + topic, body.encode("utf-8"))
        assert status == 200, (status, answer, body)
    check("websocket", [ws.recv(timeout=30) for _ in range(count)])
check("long-poll", poll_all(""))
check("short poll", poll_all("&wait=0"))

sse_lines = []
while len(sse_lines) < count:
    line = sse_resp.fp.readline().decode("utf-8")
    # The stream is chunked: chunk-size lines are hexadecimal and carry no colon.
    if line.startswith("data: "):
        sse_lines.append(line[len("data: "):].rstrip("\r\n"))
check("sse", sse_lines)
sse.close()

total = sum(len(b.encode("utf-8")) for b in bodies)
print("json round trip: %d bodies (%d bytes of UTF-8) exact on sse, websocket, long-poll, short poll" % (count, total))
