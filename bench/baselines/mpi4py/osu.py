"""OSU-style figures for mpi4py (Open MPI), the baseline of bench/mpi.ts.

Run as `mpiexec -n N python3 osu.py [scale]`. Every figure is timed per
iteration on each rank (MPI.Wtime), after a warm-up; a barrier separates the
iterations of a collective and is not timed. Rank 0 prints one JSON object per
figure, one per line: name, bytes, ranks, iterations, and mean, median and p99
in microseconds. For a collective, each iteration's time is the slowest
rank's (what the caller of a collective waits for). Results are checked:
a wrong value stops the run. `scale` (default 1) multiplies the iteration
counts, and `passes` (default 6, as bench/mpi.ts) how many times the whole list runs; every
figure carries its pass (0, 1, ...), and bench/mpi.ts reports the last pass,
as it does for rankflow's side (bench/programs/osu.ts), whose JIT warms up.
"""
import json
import sys

import numpy as np
from mpi4py import MPI

comm = MPI.COMM_WORLD
rank = comm.Get_rank()
size = comm.Get_size()
SCALE = float(sys.argv[1]) if len(sys.argv) > 1 else 1.0
PASSES = int(sys.argv[2]) if len(sys.argv) > 2 else 6
# The pass being run: each figure printed carries it.
current_pass = 0


def emit(figure):
    print(json.dumps({**figure, "pass": current_pass}), flush=True)


def iterations(nbytes, base=20000):
    n = base if nbytes <= 4096 else max(20, int(base * 4096 / nbytes))
    return max(10, int(n * SCALE))


def report(name, nbytes, samples):
    """samples: this rank's per-iteration seconds; rank 0 reports the slowest rank per iteration."""
    allsamples = comm.gather(samples, root=0)
    if rank != 0:
        return
    worst = np.max(np.array(allsamples), axis=0) * 1e6
    emit({
        "name": name, "bytes": nbytes, "ranks": size, "iterations": len(samples),
        "mean": float(np.mean(worst)), "median": float(np.median(worst)), "p99": float(np.percentile(worst, 99))
    })


# A rank's buffer per ping-pong size, made once per job and reused by every
# pass, as OSU's benchmarks allocate theirs once (osu.ts does the same).
buffers = {}


def pingpong(nbytes):
    """Half a round trip between ranks 0 and 1 (the others wait)."""
    n = iterations(nbytes)
    if nbytes not in buffers:
        buffers[nbytes] = np.zeros(max(nbytes, 1), dtype=np.uint8)[:nbytes]
    buf = buffers[nbytes]
    buf[:] = 7 if rank == 0 else 0
    times = []
    for i in range(n + n // 10):
        if rank == 0:
            t = MPI.Wtime()
            comm.Send([buf, MPI.BYTE], dest=1, tag=1)
            comm.Recv([buf, MPI.BYTE], source=1, tag=1)
            if i >= n // 10:
                times.append((MPI.Wtime() - t) / 2)
        elif rank == 1:
            comm.Recv([buf, MPI.BYTE], source=0, tag=1)
            comm.Send([buf, MPI.BYTE], dest=0, tag=1)
    if rank <= 1 and nbytes > 0:
        assert buf[0] == 7 and buf[-1] == 7
    if rank == 0:
        emit({
            "name": "pingpong", "bytes": nbytes, "ranks": 2, "iterations": len(times),
            "mean": float(np.mean(times) * 1e6), "median": float(np.median(times) * 1e6), "p99": float(np.percentile(times, 99) * 1e6)
        })
    comm.Barrier()


def timed(name, nbytes, op, check):
    n = iterations(nbytes, 5000)
    times = []
    for i in range(n + n // 10):
        comm.Barrier()
        t = MPI.Wtime()
        result = op()
        if i >= n // 10:
            times.append(MPI.Wtime() - t)
    check(result)
    report(name, nbytes, times)


def collectives():
    timed("barrier", 0, lambda: comm.Barrier(), lambda r: None)

    b8 = np.zeros(1, dtype=np.float64)

    def bcast8():
        if rank == 0:
            b8[0] = 42.0
        comm.Bcast([b8, MPI.DOUBLE], root=0)
        return b8
    timed("bcast", 8, bcast8, lambda r: (_ for _ in ()).throw(AssertionError("bcast")) if r[0] != 42.0 else None)

    for count in (1, 131072):
        send = np.full(count, rank + 1, dtype=np.float64)
        recv = np.zeros(count, dtype=np.float64)

        def allreduce():
            comm.Allreduce([send, MPI.DOUBLE], [recv, MPI.DOUBLE], op=MPI.SUM)
            return recv
        expected = size * (size + 1) / 2
        timed("allreduce", count * 8, allreduce, lambda r: (_ for _ in ()).throw(AssertionError("allreduce")) if r[0] != expected or r[-1] != expected else None)

    for count in (1, 8192):
        send = np.full(count, rank, dtype=np.float64)
        recv = np.zeros(count * size, dtype=np.float64)

        def allgather():
            comm.Allgather([send, MPI.DOUBLE], [recv, MPI.DOUBLE])
            return recv
        timed("allgather", count * 8, allgather, lambda r: (_ for _ in ()).throw(AssertionError("allgather")) if r[-1] != size - 1 else None)


def objects():
    """The tutorial's dict (mpi4py's README), by pickle: bcast, and a send/recv ping-pong."""
    data = {"key1": [7, 2.72, 2 + 3j], "key2": ("abc", "xyz")}
    timed("bcast-object", 0, lambda: comm.bcast(data if rank == 0 else None, root=0),
          lambda r: (_ for _ in ()).throw(AssertionError("bcast-object")) if r != data else None)
    n = iterations(0)
    times = []
    for i in range(n + n // 10):
        if rank == 0:
            t = MPI.Wtime()
            comm.send(data, dest=1, tag=2)
            got = comm.recv(source=1, tag=2)
            if i >= n // 10:
                times.append((MPI.Wtime() - t) / 2)
        elif rank == 1:
            got = comm.recv(source=0, tag=2)
            comm.send(got, dest=0, tag=2)
    if rank == 0:
        assert got == data
        emit({
            "name": "pingpong-object", "bytes": 0, "ranks": 2, "iterations": len(times),
            "mean": float(np.mean(times) * 1e6), "median": float(np.median(times) * 1e6), "p99": float(np.percentile(times, 99) * 1e6)
        })
    comm.Barrier()


def figures():
    if size >= 2:
        for nbytes in (8, 4096, 1 << 20, 64 << 20):
            if size == 2 or nbytes <= 4096:
                pingpong(nbytes)
        if size == 2:
            objects()
        else:
            timed("bcast-object", 0, lambda: comm.bcast({"key1": [7, 2.72, 2 + 3j], "key2": ("abc", "xyz")} if rank == 0 else None, root=0), lambda r: None)
    collectives()


for current_pass in range(PASSES):
    figures()
