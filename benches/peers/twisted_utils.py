"""Twisted's utils.getProcessOutput('/bin/echo', ['hi']): the peer figures
for procwire's benches/utils.rs (docs/benchmarks.md), in the manner of the
shared peers/twisted_bench.py. Run it with a Python that has Twisted:

    python3 -m venv /tmp/tw && /tmp/tw/bin/pip install twisted
    /tmp/tw/bin/python benches/peers/twisted_utils.py concurrent 2000 environ

usage: twisted_utils.py concurrent N [environ]  -- N getProcessOutput at once (gatherResults)
       twisted_utils.py sequential N [environ]  -- N one after another
With `environ`, the child gets os.environ (as procwire's do) instead of
getProcessOutput's default env={}.
Prints one line: workload, count, seconds, rate.
"""
import os, resource, sys, time
from twisted.internet import reactor, defer, utils

soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

ENV = dict(os.environ) if sys.argv[3:] == ["environ"] else {}

def one():
    return utils.getProcessOutput("/bin/echo", ["hi"], env=ENV)

def check(out):
    assert out == b"hi\n", out

def concurrent(n):
    @defer.inlineCallbacks
    def run():
        t = time.perf_counter()
        outs = yield defer.gatherResults([one() for _ in range(n)])
        dt = time.perf_counter() - t
        for out in outs:
            check(out)
        print(f"concurrent {n} env={len(ENV)} {dt:.3f}s {n/dt:.0f}/s")
        reactor.stop()
    reactor.callWhenRunning(run)
    reactor.run()

def sequential(n):
    @defer.inlineCallbacks
    def run():
        t = time.perf_counter()
        for _ in range(n):
            check((yield one()))
        dt = time.perf_counter() - t
        print(f"sequential {n} env={len(ENV)} {dt:.3f}s {n/dt:.0f}/s")
        reactor.stop()
    reactor.callWhenRunning(run)
    reactor.run()

if __name__ == "__main__":
    kind, n = sys.argv[1], int(sys.argv[2])
    {"concurrent": concurrent, "sequential": sequential}[kind](n)
