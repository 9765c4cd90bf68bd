#!/usr/bin/env python3
"""What a pushwire deployment needs, from this project's measured costs (docs/CAPACITY.md).

    python3 benches/capacity.py                   # the table for every scenario
    python3 benches/capacity.py --check 2000 200  # one measured point: F followers, R events/s

Every figure below names the measurement it rests on (a section of BENCHMARKS.md or README.md);
the ones marked ESTIMATE were not measured here. Change them to your own measurements.
"""

import argparse
import math

FIGURES = {
    # Server memory per idle connection, user space (BENCHMARKS.md, "The reactor's turn ...,
    # idle memory": 19,900 connections, the binary; SSE at the default log level `info`).
    "idle_bytes": {"sse": 298, "websocket": 189, "long-poll": 400},  # long-poll: ESTIMATE
    # Kernel memory per idle TCP socket (socket, file, epoll entry): ESTIMATE, about 3 KiB with
    # default buffers once they are drained.
    "kernel_bytes_per_socket": 3072,
    # Server CPU per delivered event on one worker, loopback, by followers of the worker
    # (BENCHMARKS.md, "Fan-out cost as connections grow", the mean of its two runs): it grows with
    # the sockets touched (all of it kernel time, the receiver's included on loopback). Past
    # 19,900 followers the last figure is used: not measured beyond.
    "cpu_us_per_delivery": {
        "sse": [(1000, 3.55), (5000, 4.5), (19900, 5.35)],
        "websocket": [(1000, 3.7), (5000, 4.4), (19900, 5.05)],
        "long-poll": [(1000, 6.5), (5000, 9.4), (19900, 9.3)],
    },
    # Redis CPU per publish, all told (BENCHMARKS.md, "One node over Redis": 38-41 us) and its
    # round trips (one EVALSHA; one more with redis_wait_replicas).
    "redis_cpu_us_per_publish": 41.0,
    # Redis CPU per extra node a publish is pushed to (one RESP3 push): ESTIMATE.
    "redis_cpu_us_per_push": 2.0,
    # Bytes on the wire per event to one follower, 64-byte events (the event line plus framing:
    # SSE `id:`/`data:` lines and the chunk, a WebSocket header; a long-poll answer's head).
    "wire_bytes_per_delivery": {"sse": 160, "websocket": 130, "long-poll": 330},
    # Bytes per event from Redis to each node that follows its topic (the channel message).
    "wire_bytes_per_node_event": 180,
    # What one node is given: cores, memory, and connections (file descriptors; 20,000 on this
    # machine, a tuned Linux host takes a million).
    "node_cores": 32,
    "node_memory_bytes": 64 << 30,
    "node_connections": 1_000_000,
    # A Redis shard is one core.
    "shard_core_us_per_second": 1_000_000,
}


def cpu_per_delivery(technique, followers, f=FIGURES):
    """Server CPU (us) per delivery with `followers` per worker: the measured points,
    interpolated on a log scale, the ends held flat."""
    points = f["cpu_us_per_delivery"][technique]
    if followers <= points[0][0]:
        return points[0][1]
    for (n0, c0), (n1, c1) in zip(points, points[1:]):
        if followers <= n1:
            at = (math.log(followers) - math.log(n0)) / (math.log(n1) - math.log(n0))
            return c0 + at * (c1 - c0)
    return points[-1][1]


def plan(followers, topics, rate, technique="websocket", f=FIGURES):
    """Resources for `followers` clients, each on one of `topics` topics (uniformly), with
    `rate` events/s published over all topics."""
    per_topic = max(followers / topics, 1e-9)
    deliveries = rate * min(per_topic, followers)
    per_worker = min(followers, f["node_connections"]) / f["node_cores"]
    cpu_cores = deliveries * cpu_per_delivery(technique, per_worker, f) / 1e6
    memory = followers * (f["idle_bytes"][technique] + f["kernel_bytes_per_socket"])
    nodes_for = {
        "connections": followers / f["node_connections"],
        "cores": cpu_cores / f["node_cores"],
        "memory": memory / f["node_memory_bytes"],
    }
    nodes = max(1, math.ceil(max(nodes_for.values())))
    # Each publish reaches every node that has a follower of its topic.
    nodes_per_event = min(nodes, max(per_topic, 1.0))
    redis_us = rate * (f["redis_cpu_us_per_publish"] + nodes_per_event * f["redis_cpu_us_per_push"])
    shards = max(1, math.ceil(redis_us / f["shard_core_us_per_second"]))
    egress = deliveries * f["wire_bytes_per_delivery"][technique]
    redis_egress = rate * nodes_per_event * f["wire_bytes_per_node_event"]
    binding = max(nodes_for, key=nodes_for.get)
    return {
        "deliveries/s": deliveries,
        "cores": cpu_cores,
        "memory GiB": memory / (1 << 30),
        "nodes": nodes,
        "first limit": binding,
        "redis shards": shards,
        "egress Gbit/s": egress * 8 / 1e9,
        "redis egress Gbit/s": redis_egress * 8 / 1e9,
    }


def table():
    rows = []
    for followers in (1_000_000, 10_000_000, 100_000_000):
        for topics in (10_000, 1_000_000):
            for rate in (1_000, 100_000):
                p = plan(followers, topics, rate)
                rows.append((followers, topics, rate, p))
    print("| followers | topics | events/s | deliveries/s | cores | memory | nodes (first limit) "
          "| Redis shards | egress | Redis egress |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for followers, topics, rate, p in rows:
        print(f"| {followers:,} | {topics:,} | {rate:,} | {p['deliveries/s']:,.0f} "
              f"| {p['cores']:,.1f} | {p['memory GiB']:,.1f} GiB | {p['nodes']:,} ({p['first limit']}) "
              f"| {p['redis shards']} | {p['egress Gbit/s']:,.2f} Gbit/s "
              f"| {p['redis egress Gbit/s']:,.3f} Gbit/s |")


def check(followers, rate, technique):
    """The prediction for one topic, `followers` followers and `rate` events/s on one core of
    this machine: server CPU share and resident memory."""
    deliveries = followers * rate
    cpu = deliveries * cpu_per_delivery(technique, followers) / 1e6
    user_memory = followers * FIGURES["idle_bytes"][technique]
    print(f"prediction, one worker: {deliveries:,} deliveries/s, {cpu * 100:.0f} % of one core "
          f"({cpu_per_delivery(technique, followers):.2f} us per delivery), "
          f"{user_memory / 1e6:.1f} MB of connection state besides the process's base")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--check", nargs=2, type=int, metavar=("FOLLOWERS", "RATE"))
    parser.add_argument("--technique", default="websocket", choices=["sse", "websocket", "long-poll"])
    args = parser.parse_args()
    if args.check:
        check(args.check[0], args.check[1], args.technique)
    else:
        table()
