"""pushwire behind nginx with deploy/nginx.conf: an event stream arrives event by event (not
buffered), a WebSocket upgrade passes, a long-poll parks and wakes, the client address nginx
forwards is the one pushwire logs, and a drain (SIGTERM) reaches the clients through the proxy.

    python3 tests/interop/behind_proxy.py PROXY_PORT PUSHWIRE_PID PUSHWIRE_LOG
"""

import asyncio
import http.client
import json
import os
import signal
import socket
import sys
import threading
import time

import websockets

proxy_port, pid, log_path = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
failures = []


def check(name, ok, detail=""):
    print(("ok   " if ok else "FAIL ") + name + (f" ({detail})" if detail and not ok else ""))
    if not ok:
        failures.append(name)


def publish(topic, text):
    c = http.client.HTTPConnection("127.0.0.1", proxy_port, timeout=10)
    c.request("POST", f"/publish?topic={topic}", body=text.encode())
    r = c.getresponse()
    body = r.read().decode()
    assert r.status == 200, (r.status, body)
    return int(body)


class Stream:
    """An event stream through the proxy, read as it arrives."""

    def __init__(self, target, headers=None):
        self.sock = socket.create_connection(("127.0.0.1", proxy_port), timeout=10)
        extra = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
        self.sock.sendall(f"GET {target} HTTP/1.1\r\nHost: push\r\nAccept: text/event-stream\r\n{extra}\r\n".encode())
        self.buf = b""

    def until(self, needle, seconds=5):
        deadline = time.time() + seconds
        while needle.encode() not in self.buf:
            self.sock.settimeout(max(0.05, deadline - time.time()))
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                return False
            if not chunk:
                return needle.encode() in self.buf
            self.buf += chunk
        return True


# An event stream: the head, then each event as it is published.
sse = Stream("/events?topic=proxied", {"X-Forwarded-For": "198.51.100.7"})
check("event stream head through the proxy", sse.until("retry: 1000"))
for i in range(3):
    seq = publish("proxied", f"event {i}")
    check(f"event {i} arrives at once, not buffered", sse.until(f'"data":"event {i}"', 2))


async def websocket():
    async with websockets.connect(f"ws://127.0.0.1:{proxy_port}/ws?topic=proxied") as ws:
        threading.Thread(target=publish, args=("proxied", "over ws")).start()
        message = json.loads(await asyncio.wait_for(ws.recv(), 5))
        check("a WebSocket upgrade passes and receives", message["data"] == "over ws")
        return ws


asyncio.run(websocket())

# A long-poll parks behind the proxy and wakes on a publish.
last = publish("polled", "first")
c = http.client.HTTPConnection("127.0.0.1", proxy_port, timeout=20)
threading.Timer(0.5, publish, args=("polled", "second")).start()
started = time.time()
c.request("GET", f"/poll?topic=polled&cursor={last}")
r = c.getresponse()
body = r.read().decode()
check("a long-poll parks and wakes through the proxy", r.status == 200 and '"data":"second"' in body and time.time() - started >= 0.4, body)

# The drain, seen through the proxy: the stream gets its retry and position, the socket 1001.
drained = {}


async def drain():
    async with websockets.connect(f"ws://127.0.0.1:{proxy_port}/ws?topic=proxied") as ws:
        os.kill(pid, signal.SIGTERM)
        try:
            await asyncio.wait_for(ws.recv(), 10)
        except websockets.ConnectionClosed as closed:
            drained["code"], drained["reason"] = closed.rcvd.code if closed.rcvd else None, closed.rcvd.reason if closed.rcvd else ""


stream = Stream("/events?topic=proxied")
check("a second stream opens", stream.until("retry: 1000"))
asyncio.run(drain())
check("a WebSocket through the proxy is closed 1001 with its cursor",
      drained.get("code") == 1001 and drained.get("reason", "").startswith("going away; resume from cursor"), str(drained))
check("an event stream through the proxy ends with where to resume", stream.until(": going away; resume from", 10), stream.buf[-200:])

# The client address nginx forwarded is the one logged.
deadline = time.time() + 10
while time.time() < deadline and "stopped reason=drained" not in open(log_path).read():
    time.sleep(0.05)
log = open(log_path).read()
check("pushwire logged the forwarded client address", "peer=198.51.100.7:0" in log, log)
check("pushwire drained and stopped", "stopped reason=drained" in log)
sys.exit(1 if failures else 0)
