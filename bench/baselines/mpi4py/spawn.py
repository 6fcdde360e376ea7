"""Spawn times with mpi4py on Open MPI (the baseline of bench/futures.ts):
milliseconds from COMM_SELF.Spawn of `maxprocs` processes until a barrier
with them is through, best and median of `repeats`; one JSON line."""
import json
import statistics
import sys
import time

from mpi4py import MPI

parent = MPI.Comm.Get_parent()
if parent != MPI.COMM_NULL:
    parent.Barrier()
    parent.Disconnect()
    sys.exit(0)

maxprocs, repeats = int(sys.argv[1]), int(sys.argv[2])
times = []
for _ in range(repeats):
    t = time.perf_counter()
    inter = MPI.COMM_SELF.Spawn(sys.executable, args=[__file__], maxprocs=maxprocs)
    inter.Barrier()
    inter.Disconnect()
    times.append((time.perf_counter() - t) * 1000)
times.sort()
print(json.dumps({"maxprocs": maxprocs, "bestMs": times[0], "medianMs": statistics.median(times)}))
