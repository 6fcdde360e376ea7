"""The I/O benchmark through mpi4py (Open MPI's MPI-IO): each rank's block of a
ROWS×COLS array of doubles through a subarray view, one Write_at_all; prints
then reads it back with one Read_at_all; prints the best of REPEATS of each
(the slowest rank's milliseconds) as JSON from rank 0.

    mpiexec -n 4 python3 io.py PATH ROWS COLS REPEATS
"""
import json
import sys
import time

import numpy as np
from mpi4py import MPI

comm = MPI.COMM_WORLD
path, rows, cols, repeats = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
dims = MPI.Compute_dims(comm.Get_size(), [0, 0])
grid = comm.Create_cart(dims, periods=[False, False])
coords = grid.Get_coords(grid.Get_rank())
r0, r1 = coords[0] * rows // dims[0], (coords[0] + 1) * rows // dims[0]
c0, c1 = coords[1] * cols // dims[1], (coords[1] + 1) * cols // dims[1]
mine = np.fromfunction(lambda i, j: (r0 + i) * cols + c0 + j, (r1 - r0, c1 - c0), dtype=np.float64).copy()
filetype = MPI.DOUBLE.Create_subarray([rows, cols], [r1 - r0, c1 - c0], [r0, c0]).Commit()
best = float("inf")
for _ in range(repeats):
    grid.Barrier()
    t = time.perf_counter()
    fh = MPI.File.Open(grid, path, MPI.MODE_WRONLY | MPI.MODE_CREATE)
    fh.Set_view(0, MPI.DOUBLE, filetype)
    fh.Write_at_all(0, mine)
    fh.Close()
    best = min(best, grid.allreduce((time.perf_counter() - t) * 1000, op=MPI.MAX))
back = np.empty_like(mine)
best_read = float("inf")
for _ in range(repeats):
    grid.Barrier()
    t = time.perf_counter()
    fh = MPI.File.Open(grid, path, MPI.MODE_RDONLY)
    fh.Set_view(0, MPI.DOUBLE, filetype)
    fh.Read_at_all(0, back)
    fh.Close()
    best_read = min(best_read, grid.allreduce((time.perf_counter() - t) * 1000, op=MPI.MAX))
assert (back == mine).all()
if grid.Get_rank() == 0:
    print(json.dumps({"viaFile": best, "readViaFile": best_read}))
