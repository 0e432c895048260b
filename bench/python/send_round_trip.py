"""One CPython generator send round trip (an int in, an int back), for coro_peers.

Usage: python3 send_round_trip.py SAMPLES BATCH_NS
Prints one line per sample: `cpython ns_per_send`. The same body as the Rust peers: receive
x, yield x + 1. Sends are unrolled ten to a loop turn so the loop's own cost stays small.
"""

import sys
from time import perf_counter_ns


def echo():
    y = 0
    while True:
        x = yield y
        y = x + 1


def batch(send, turns):
    """Runs 10 * turns sends and returns the nanoseconds they took."""
    x = 41
    start = perf_counter_ns()
    for _ in range(turns):
        send(x); send(x); send(x); send(x); send(x)
        send(x); send(x); send(x); send(x); send(x)
    return perf_counter_ns() - start


def main():
    samples = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    target = int(sys.argv[2]) if len(sys.argv) > 2 else 10_000_000
    g = echo()
    next(g)
    send = g.send
    turns = 100
    while True:
        took = batch(send, turns)
        if took >= target // 4:
            turns = max(1, turns * target // took)
            break
        turns *= 4
    for _ in range(samples):
        took = batch(send, turns)
        print(f"cpython {took / (10 * turns)}")


if __name__ == "__main__":
    main()
