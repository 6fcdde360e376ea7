# The hello of rankflow's quick start through mpi4py: every rank greets, then a barrier.
from mpi4py import MPI

comm = MPI.COMM_WORLD
print(f"Hello! I'm rank {comm.rank} from {comm.size} running in total...", flush=True)
comm.Barrier()
