"""A rank of a rankflow job, in Python: the reference peer of docs/nats-protocol.md.

Standard library plus cbor2 and msgpack (Debian: python3-cbor2, python3-msgpack).
It speaks NATS's text protocol over a socket, joins a job, and then sends and
receives point-to-point messages (all four send modes), joins barriers and
broadcasts, and leaves. Single-threaded: every call pumps the connection.

    peer = Peer.join("nats://127.0.0.1:4222", job="demo", rank=2, size=3)
    value, status = peer.recv(source=0, tag=1)
    peer.send({"answer": 42}, dest=0, tag=2, codec="msgpack")
    peer.barrier()
    peer.close()
"""
import hashlib
import hmac
import json
import os
import random
import socket
import struct
import time

import cbor2
import msgpack

# Frame types and flags (docs/nats-protocol.md, "Frames").
DATA, ACK, JOIN, HEARTBEAT, LEAVE, FAILED, CONFLICT, BUNDLE = range(1, 9)
FIRST, LAST = 1, 2
COMPLETE = 1
RESEND = 1
VERSION = 2
TAG_BYTES = 16
ALL = 0xFFFFFFFF
# Envelope kinds, codec ids, and the raw path's datatypes.
KIND_DATA, KIND_SYNC, KIND_ACK, KIND_FIN = 0, 1, 2, 3
CODECS = {"raw": 0, "cbor": 3, "msgpack": 4}
DATATYPES = {1: "b", 2: "B", 3: "B", 4: "h", 5: "H", 6: "i", 7: "I", 8: "e", 9: "f", 10: "d", 11: "q", 12: "Q"}
WINDOW = 32 << 20  # the credit this peer grants each sender; it takes messages as they arrive


class RankFailed(Exception):
    pass


def _map_tag(decoder, tag):
    return tag.value if tag.tag == 259 else tag  # a JS Map: a dict here


def encode_value(value, codec):
    """(header, buffers) of a value: codec "cbor", "msgpack", or "raw" for (datatype id, bytes)."""
    if codec == "cbor":
        return cbor2.dumps(value), []
    if codec == "msgpack":
        return msgpack.packb(value, use_bin_type=True), []
    datatype, data = value
    count = len(data) // struct.calcsize(DATATYPES[datatype])
    return bytes([datatype]) + leb128(count), [bytes(data)]


def decode_value(codec, header, buffers):
    if codec == CODECS["cbor"]:
        return cbor2.loads(header, tag_hook=_map_tag)
    if codec == CODECS["msgpack"]:
        return msgpack.unpackb(header, strict_map_key=False, raw=False)
    if codec == CODECS["raw"]:
        return header[0], buffers[0]  # (datatype id, the elements' bytes, little-endian)
    raise ValueError(f"codec {codec} is JS-only (pickle or marshal): send with cbor, msgpack or raw")


def leb128(n):
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def fnv1a(data, h=0x811C9DC5):
    for b in data:
        h = ((h ^ b) * 0x01000193) & 0xFFFFFFFF
    return h


class Nats:
    """Just enough of NATS's client protocol: CONNECT, SUB, PUB, MSG, PING/PONG."""

    def __init__(self, url):
        host, port = url.removeprefix("nats://").rsplit(":", 1)
        self.sock = socket.create_connection((host, int(port)))
        self.buf = b""
        info = self._line()
        assert info.startswith(b"INFO "), info
        self.max_payload = json.loads(info[5:])["max_payload"]
        self.sock.sendall(b'CONNECT {"verbose":false,"pedantic":false,"protocol":1,"no_echo":true,"lang":"python","version":"1"}\r\n')
        self.sids = {}

    def _line(self):
        while b"\r\n" not in self.buf:
            self._read()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _read(self):
        chunk = self.sock.recv(1 << 20)
        if not chunk:
            raise ConnectionError("the NATS server closed the connection")
        self.buf += chunk

    def sub(self, subject):
        sid = len(self.sids) + 1
        self.sids[sid] = subject
        self.sock.sendall(f"SUB {subject} {sid}\r\n".encode())

    def pub(self, subject, payload):
        self.sock.sendall(f"PUB {subject} {len(payload)}\r\n".encode() + payload + b"\r\n")

    def poll(self, timeout):
        """The messages (subject, payload) that arrive within `timeout` seconds (at least those already here)."""
        self.sock.settimeout(timeout)
        try:
            self._read()
        except (socket.timeout, BlockingIOError):
            pass
        out = []
        while b"\r\n" in self.buf:
            line, rest = self.buf.split(b"\r\n", 1)
            if line.startswith(b"MSG "):
                parts = line.split()
                size = int(parts[-1])
                while len(rest) < size + 2:
                    self.sock.settimeout(None)
                    self._read()
                    line, rest = self.buf.split(b"\r\n", 1)
                out.append((parts[1].decode(), rest[:size]))
                self.buf = rest[size + 2:]
            else:
                self.buf = rest
                if line == b"PING":
                    self.sock.sendall(b"PONG\r\n")
                elif line.startswith(b"-ERR"):
                    raise ConnectionError(line.decode())
        return out


class Pair:
    """What this peer keeps per other rank: sequence numbers, acknowledgements, credit, reassembly."""

    def __init__(self, window):
        self.next_out = 1          # sequence number of our next DATA frame to it
        self.unacked = []          # (seq, frame) sent and not yet acknowledged
        self.credit = window       # cumulative bytes it lets us send (its JOIN's window, then its grants)
        self.charged = 0           # what we have sent, as credit counts it
        self.expected = 1          # the next sequence number we accept from it
        self.received = 0          # bytes of its frames, all taken at once (so our grant is received + WINDOW)
        self.message_number = 0    # of our messages to it
        self.assembling = None     # (descriptor fields, body bytearray) of its message in progress


class Peer:
    def __init__(self, url, job, rank, size, key=None):
        self.nats = Nats(url)
        self.job, self.rank, self.size = job, rank, size
        self.incarnation = random.randrange(1, 2**32)
        self.mac_key = hmac.new(key, f"rankflow frames v2 {job}".encode(), hashlib.sha256).digest() if key else None
        self.run = 0
        self.started = False
        self.members = {}          # rank -> (incarnation, window, proposed run)
        self.running = set()       # peers heard with the agreed run
        self.pairs = {}
        self.world_context = 0
        self.inbox = []            # (source, kind, codec, context, tag, seq, header, buffers)
        self.failed = {}
        self.last_heartbeat = self.last_join = 0.0
        self.collective_seq = 0
        self.sync_seq = 1
        self.acked_syncs = set()
        self.nats.sub(f"rankflow.{job}.to.{rank}")
        self.nats.sub(f"rankflow.{job}.all")

    # ---- frames ---------------------------------------------------------------------------
    def frame(self, ftype, flags, body):
        auth = 1 if self.mac_key else 0
        head = b"RF" + bytes([VERSION, ftype]) + struct.pack("<IIIIB3x", self.rank, self.incarnation, flags, self.run, auth)
        return head + body

    def publish(self, dest, frame):
        if self.mac_key:
            tag = hmac.new(self.mac_key, struct.pack("<I", dest) + frame, hashlib.sha256).digest()[:TAG_BYTES]
            frame += tag
        subject = f"rankflow.{self.job}.all" if dest == ALL else f"rankflow.{self.job}.to.{dest}"
        self.nats.pub(subject, frame)
        return frame

    def announce(self):
        host, ranks = socket.gethostname().encode()[:255], str(self.rank).encode()
        seen = len(self.members) + 1
        body = struct.pack("<IIdIBxHII", self.size, seen, WINDOW, os.getpid(), len(host), len(ranks), self.incarnation, os.getpid())
        self.publish(ALL, self.frame(JOIN, COMPLETE if self.run else 0, body + host + ranks + struct.pack("<I", 0)))
        self.last_join = time.monotonic()

    def propose(self):
        incarnations = {**{r: m[0] for r, m in self.members.items()}, self.rank: self.incarnation}
        data = b"".join(struct.pack("<H", ord(c)) for c in self.job) + struct.pack("<I", self.size)
        data += b"".join(struct.pack("<I", incarnations[r]) for r in range(self.size))
        self.run = fnv1a(data) or 1

    # ---- the event loop -------------------------------------------------------------------
    def pump(self, timeout=0.05):
        for subject, payload in self.nats.poll(timeout):
            self.handle(subject, payload)
        now = time.monotonic()
        if not self.started and now - self.last_join > 0.25 or self.started and len(self.running) < self.size - 1 and now - self.last_join > 1:
            self.announce()
        if self.started and now - self.last_heartbeat > 1:
            self.publish(ALL, self.frame(HEARTBEAT, 0, struct.pack("<II", self.size, 0)))
            self.last_heartbeat = now

    def handle(self, subject, payload):
        if self.mac_key:
            dest = ALL if subject.endswith(".all") else self.rank
            expected = hmac.new(self.mac_key, struct.pack("<I", dest) + payload[:-TAG_BYTES], hashlib.sha256).digest()[:TAG_BYTES]
            if payload[20] != 1 or not hmac.compare_digest(expected, payload[-TAG_BYTES:]):
                return  # not from a holder of the job's key
            payload = payload[:-TAG_BYTES]
        if payload[:3] != b"RF\x02":
            return
        ftype = payload[3]
        source, incarnation, flags, run = struct.unpack_from("<IIII", payload, 4)
        if source == self.rank or source >= self.size:
            return
        if ftype == JOIN:
            return self.on_join(payload, source, incarnation, flags, run)
        if self.started and (run != self.run or self.members.get(source, (None,))[0] != incarnation):
            return  # another run, or another process for that rank
        if self.started:
            self.running.add(source)
        if ftype == BUNDLE:
            (count,) = struct.unpack_from("<I", payload, 24)
            at = 32
            for _ in range(count):
                (length,) = struct.unpack_from("<I", payload, at)
                self.on_data(payload[at + 8:at + 8 + length], source)
                at += 8 + (length + 7) // 8 * 8
        elif ftype == DATA:
            self.on_data(payload, source)
        elif ftype == ACK:
            ack, credit = struct.unpack_from("<Id", payload, 28)
            self.on_ack(source, ack, credit, flags & RESEND)
        elif ftype in (LEAVE, FAILED):
            failed = source if ftype == LEAVE else struct.unpack_from("<I", payload, 24)[0]
            if failed == self.rank:
                raise RankFailed("the job declared this rank failed")
            self.failed[failed] = "left the job" if ftype == LEAVE else "failed"

    def on_join(self, payload, source, incarnation, flags, run):
        size, seen, window = struct.unpack_from("<IId", payload, 24)
        if size != self.size:
            raise RankFailed(f"rank {source} is in a job of {size} ranks, this peer in one of {self.size}")
        host_length, ranks_length = payload[44], struct.unpack_from("<H", payload, 46)[0]
        end = 56 + host_length + ranks_length
        if len(payload) >= end + 4 and struct.unpack_from("<I", payload, end)[0]:
            self.world_context = struct.unpack_from("<I", payload, end)[0]
        if source not in self.members:
            self.members[source] = (incarnation, window, 0)
            self.pairs[source] = Pair(window)
        if self.members[source][0] != incarnation:
            return  # the first process heard for a rank is pinned
        self.members[source] = (incarnation, window, run if flags & COMPLETE else 0)
        if len(self.members) == self.size - 1 and not self.run:
            self.propose()
            self.announce()
        if not flags & COMPLETE or run != self.run:
            self.announce()  # late joiners learn of us
        if self.run and all(m[2] == self.run for m in self.members.values()):
            self.started = True
        if self.started and run == self.run:
            self.running.add(source)

    def on_ack(self, source, ack, credit, resend):
        pair = self.pairs[source]
        pair.credit = max(pair.credit, credit)
        pair.unacked = [(s, f) for s, f in pair.unacked if ((s - ack) & 0xFFFFFFFF) < 2**31 and s != ack]
        if resend:
            for _, frame in pair.unacked:
                self.nats.pub(f"rankflow.{self.job}.to.{source}", frame)

    def on_data(self, frame, source):
        pair = self.pairs[source]
        seq, ack, credit, number, _, offset = struct.unpack_from("<IIdIId", frame, 24)
        self.on_ack(source, ack, credit, False)
        if seq != pair.expected:
            if ((seq - pair.expected) & 0xFFFFFFFF) < 2**31:  # a gap: ask for everything after what we have
                self.send_ack(source, RESEND)
            else:
                self.send_ack(source, 0)  # a duplicate
            return
        pair.expected = pair.expected % 0xFFFFFFFF + 1
        pair.received += len(frame) + (TAG_BYTES if self.mac_key else 0) + 1024
        flags = struct.unpack_from("<I", frame, 12)[0]
        data = frame[56:]
        if flags & FIRST:
            e, n, h, body_length = struct.unpack_from("<BxHId", data, 0)
            sizes = struct.unpack_from(f"<{n}d", data, 16)
            envelope = data[16 + 8 * n:16 + 8 * n + e]
            described = (16 + 8 * n + e + 7) // 8 * 8
            pair.assembling = (envelope, h, sizes, bytearray(int(body_length)))
            data = data[described:]
        envelope, h, sizes, body = pair.assembling
        body[int(offset):int(offset) + len(data)] = data
        if flags & LAST:
            kind, codec, context, tag, sseq = struct.unpack_from("<BBxxIiI", envelope)
            buffers, at = [], (h + 7) // 8 * 8
            for s in sizes:
                buffers.append(bytes(body[at:at + int(s)]))
                at = (at + int(s) + 7) // 8 * 8
            if kind == KIND_ACK:
                self.acked_syncs.add(sseq)
            elif kind != KIND_FIN:
                self.inbox.append((source, kind, codec, context, tag, sseq, bytes(body[:h]), buffers))
        self.send_ack(source, 0)

    def send_ack(self, dest, flags):
        pair = self.pairs[dest]
        body = struct.pack("<IId", 0, (pair.expected - 1) or 0, pair.received + WINDOW)
        self.publish(dest, self.frame(ACK, flags, body))

    # ---- point-to-point -------------------------------------------------------------------
    def transmit(self, dest, kind, codec, context, tag, sseq, header, buffers):
        pair = self.pairs[dest]
        envelope = struct.pack("<BBxxIiI", kind, codec, context, tag, sseq)
        parts, at = [], 0
        for part in [header, *buffers]:
            at = (at + 7) // 8 * 8
            parts.append((at, part))
            at += len(part)
        body = bytearray(at)
        for start, part in parts:
            body[start:start + len(part)] = part
        descriptor = struct.pack("<BxHId", len(envelope), len(buffers), len(header), at)
        descriptor += b"".join(struct.pack("<d", len(b)) for b in buffers) + envelope
        descriptor += bytes(-len(descriptor) % 8)
        limit = min(self.nats.max_payload, max(4096, int(self.members[dest][1] // 4 // 8 * 8))) - 56 - TAG_BYTES
        pair.message_number += 1
        offset, first = 0, True
        while first or offset < len(body):
            room = limit - (len(descriptor) if first else 0)
            chunk = bytes(body[offset:offset + room])
            flags = (FIRST if first else 0) | (LAST if offset + len(chunk) >= len(body) else 0)
            header56 = struct.pack("<IIdIId", pair.next_out, (pair.expected - 1) or 0, pair.received + WINDOW, pair.message_number, 0, offset)
            frame = self.frame(DATA, flags, header56 + (descriptor if first else b"") + chunk)
            cost = len(frame) + (TAG_BYTES if self.mac_key else 0) + 1024
            while pair.charged + cost > pair.credit:  # no credit: wait for the receiver's grant
                self.pump()
                self.check(dest)
            pair.charged += cost
            pair.unacked.append((pair.next_out, self.publish(dest, frame)))
            pair.next_out = pair.next_out % 0xFFFFFFFF + 1
            offset += len(chunk)
            first = False

    def check(self, rank):
        if rank in self.failed:
            raise RankFailed(f"rank {rank} {self.failed[rank]}")

    def send(self, value, dest, tag=0, codec="cbor", context=None, kind=KIND_DATA, sseq=0):
        """A standard send (buffered here: it returns once the frames are published)."""
        header, buffers = encode_value(value, codec)
        self.transmit(dest, kind, CODECS[codec], self.world_context if context is None else context, tag, sseq, header, buffers)

    def ssend(self, value, dest, tag=0, codec="cbor"):
        """A synchronous send: returns once the receiver has matched it (its KIND_ACK names our sequence)."""
        seq, self.sync_seq = self.sync_seq, self.sync_seq + 1
        self.send(value, dest, tag, codec, kind=KIND_SYNC, sseq=seq)
        while seq not in self.acked_syncs:
            self.pump()
            self.check(dest)
        self.acked_syncs.discard(seq)

    def recv(self, source, tag, context=None):
        """The next message from `source` with `tag` on `context` (the world's by default): (value, (source, tag))."""
        context = self.world_context if context is None else context
        while True:
            for i, (src, kind, codec, ctx, t, sseq, header, buffers) in enumerate(self.inbox):
                if src == source and ctx == context and t == tag:
                    del self.inbox[i]
                    if kind == KIND_SYNC:  # tell the sender its ssend matched
                        self.transmit(src, KIND_ACK, 0, 0, 0, sseq, b"", [])
                    return decode_value(codec, header, buffers), (src, t)
            self.check(source)
            self.pump()

    # ---- collectives (on the world: context + 1, one tag per call) ------------------------
    def barrier(self):
        """Dissemination (up to 4 ranks on NATS): round k signals rank + 2^k and waits for rank - 2^k."""
        assert self.size <= 4, "larger barriers on NATS take the k-nomial fan-in/fan-out (docs/nats-protocol.md)"
        tag, context = self._collective()
        dist = 1
        while dist < self.size:
            self.send((2, b""), (self.rank + dist) % self.size, tag, "raw", context)
            self.recv((self.rank - dist) % self.size, tag, context)
            dist *= 2

    def bcast(self, value=None, root=0, codec="cbor"):
        """The root sends to every rank (a 16-nomial tree: flat up to 16 ranks); the others receive from it."""
        assert self.size <= 16, "larger broadcasts on NATS forward along the tree (docs/nats-protocol.md)"
        tag, context = self._collective()
        if self.rank != root:
            return self.recv(root, tag, context)[0]
        for dest in range(self.size):
            if dest != root:
                self.send(value, dest, tag, codec, context)
        return value

    def _collective(self):
        tag, self.collective_seq = self.collective_seq, (self.collective_seq + 1) & 0x7FFFFFFF
        return tag, self.world_context + 1

    # ---- joining and leaving --------------------------------------------------------------
    @classmethod
    def join(cls, url, job, rank, size, key=None, timeout=30.0):
        peer = cls(url, job, rank, size, key)
        deadline = time.monotonic() + timeout
        while not peer.started:
            if time.monotonic() > deadline:
                raise TimeoutError(f"job {job}: only {len(peer.members) + 1} of {size} ranks joined")
            peer.pump()
        return peer

    def settle(self, timeout=10.0):
        """Waits until every frame sent to a live rank is acknowledged (or `timeout` seconds pass): they have arrived."""
        deadline = time.monotonic() + timeout
        while any(p.unacked for d, p in self.pairs.items() if d not in self.failed) and time.monotonic() < deadline:
            self.pump()

    def close(self):
        """Ends this peer's part: FIN to every rank (their receives from us fail, not hang), then LEAVE."""
        for dest in self.pairs:
            if dest not in self.failed:
                self.transmit(dest, KIND_FIN, 0, self.world_context, 0, 0, b"", [])
        self.settle(2.0)
        self.publish(ALL, self.frame(LEAVE, 0, struct.pack("<II", self.size, 0)))
        self.nats.sock.close()
