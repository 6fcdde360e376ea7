"""Python as the last rank of a rankflow job, beside test/programs/python-peer.ts.

    python3 demo_rank.py --nats nats://127.0.0.1:4222 --job J --rank 2 --size 3 [--job-key-file K] [--die-after-barrier]
"""
import argparse
import array
import os

from rankflow_peer import Peer

args = argparse.ArgumentParser()
args.add_argument("--nats", required=True)
args.add_argument("--job", required=True)
args.add_argument("--rank", type=int, required=True)
args.add_argument("--size", type=int, required=True)
args.add_argument("--job-key-file")
args.add_argument("--die-after-barrier", action="store_true")
opts = args.parse_args()
key = open(opts.job_key_file, "rb").read().rstrip(b"\r\n") if opts.job_key_file else None

peer = Peer.join(opts.nats, opts.job, opts.rank, opts.size, key)
print(f"python: joined as rank {peer.rank}, world context {peer.world_context}", flush=True)
if opts.die_after_barrier:
    peer.barrier()
    # The barrier's last frame must have arrived before the process dies: a process that exits with unread data on its
    # socket resets the connection, and the server may drop what it had not yet read (then a TypeScript rank's barrier,
    # not its receive, fails).
    peer.settle()
    os._exit(3)  # no FIN, no LEAVE: the other ranks must notice on their own

# cbor in, msgpack out
value, _ = peer.recv(source=0, tag=1)
peer.send({"echo": value["greeting"], "keys": value["keys"], "big": value["big"] >> 8, "from": peer.rank}, dest=0, tag=2, codec="msgpack")

# the raw path: 400,000 float64 (3.2 MB, several frames each way), doubled
datatype, data = peer.recv(source=0, tag=3)[0]
numbers = array.array("d", data)
peer.send((datatype, array.array("d", (x * 2 for x in numbers)).tobytes()), dest=0, tag=4, codec="raw")

# synchronous sends both ways
assert peer.recv(source=0, tag=5)[0] == "sync from rank 0"
peer.ssend("sync from python", dest=0, tag=6)

# rank 1: msgpack there, cbor back
peer.send({"to": 1, "n": [1, 2, 3]}, dest=1, tag=7, codec="msgpack")
reply, _ = peer.recv(source=1, tag=8)

# collectives on the world
peer.barrier()
round1 = peer.bcast(root=0)
peer.bcast({"from python": True, "reply": reply}, root=2, codec="msgpack")
print(f"python: rank 1 replied {reply}, rank 0 broadcast {round1}", flush=True)
peer.close()
print("python: left the job", flush=True)
