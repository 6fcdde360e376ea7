"""The RMA benchmark's programs through mpi4py (Open MPI): put+flush and get
latency against rank 1's window, the same transfer by send/recv, and a
fetch_and_op counter on rank 0 hammered by every rank. Prints one JSON line
from rank 0.

    mpiexec -n 2 python3 rma.py latency BYTES SECONDS
    mpiexec -n 4 python3 rma.py counter SECONDS
"""
import json
import sys
import time

import numpy as np
from mpi4py import MPI

comm = MPI.COMM_WORLD
rank = comm.Get_rank()
mode = sys.argv[1]


def timed(op, seconds):
    for _ in range(20):
        op()
    n = 0
    t = time.perf_counter()
    deadline = t + seconds
    while time.perf_counter() < deadline or n < 20:
        op()
        n += 1
    return (time.perf_counter() - t) * 1e6 / n


if mode == "latency":
    size, seconds = int(sys.argv[2]), float(sys.argv[3])
    win = MPI.Win.Allocate(size, 1, comm=comm)
    data = np.ones(size, dtype=np.uint8)
    ack = np.zeros(8, dtype=np.uint8)
    put = get = ping = 0.0
    win.Lock_all()
    if rank == 0:
        def put_flush():
            win.Put(data, 1, 0)
            win.Flush(1)

        def get_one():
            win.Get(data, 1, 0)
            win.Flush(1)

        put = timed(put_flush, seconds)
        get = timed(get_one, seconds)
    win.Unlock_all()
    win.Free()
    rounds = max(50, round(seconds * 2000))
    if rank == 0:
        for _ in range(20):
            comm.Send(data, 1)
            comm.Recv(ack, 1)
        t = time.perf_counter()
        for _ in range(rounds):
            comm.Send(data, 1)
            comm.Recv(ack, 1)
        ping = (time.perf_counter() - t) * 1e6 / rounds
    elif rank == 1:
        into = np.empty(size, dtype=np.uint8)
        for _ in range(rounds + 20):
            comm.Recv(into, 0)
            comm.Send(ack, 0)
    if rank == 0:
        print(json.dumps({"put": put, "get": get, "pingPong": ping}))
else:
    seconds = float(sys.argv[2])
    win = MPI.Win.Allocate(8 if rank == 0 else 0, 8, comm=comm)
    one = np.ones(1, dtype=np.float64)
    old = np.zeros(1, dtype=np.float64)
    win.Lock_all()
    comm.Barrier()
    n = 0
    t = time.perf_counter()
    deadline = t + seconds
    while time.perf_counter() < deadline:
        win.Fetch_and_op(one, old, 0, 0, MPI.SUM)
        win.Flush(0)
        n += 1
    elapsed = time.perf_counter() - t
    win.Unlock_all()
    total = comm.allreduce(n, MPI.SUM)
    slowest = comm.allreduce(elapsed, MPI.MAX)
    win.Free()
    if rank == 0:
        print(json.dumps({"rate": total / slowest}))
