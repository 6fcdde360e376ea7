"""The futures benchmark through mpi4py.futures (Open MPI): tiny tasks submitted
at once and awaited, then CPU-bound fib(n) tasks, and the same fib(n) calls
inline in the master (Python is slower: its speed-up is against itself);
prints one JSON line.

    mpiexec -n 3 python3 -m mpi4py.futures futures.py COUNT REPEATS CPU_TASKS N
"""
import json
import sys
import time

from mpi4py import MPI
from mpi4py.futures import MPIPoolExecutor


def identity(x):
    return x


def fib(n):
    return n if n < 2 else fib(n - 1) + fib(n - 2)


if __name__ == "__main__":
    count, repeats, cpu_tasks, n = (int(a) for a in sys.argv[1:5])
    with MPIPoolExecutor() as pool:
        pool.bootup()
        tiny = float("inf")
        for _ in range(repeats):
            t = time.perf_counter()
            futures = [pool.submit(identity, i) for i in range(count)]
            for f in futures:
                f.result()
            tiny = min(tiny, time.perf_counter() - t)
        cpu = float("inf")
        for _ in range(repeats):
            t = time.perf_counter()
            list(pool.map(fib, [n] * cpu_tasks))
            cpu = min(cpu, time.perf_counter() - t)
        inline = float("inf")
        for _ in range(repeats):
            t = time.perf_counter()
            for _ in range(cpu_tasks):
                fib(n)
            inline = min(inline, time.perf_counter() - t)
        print(json.dumps({"workers": MPI.COMM_WORLD.Get_size() - 1, "submitPerSecond": count / tiny, "cpuMs": cpu * 1000, "inlineMs": inline * 1000}))
