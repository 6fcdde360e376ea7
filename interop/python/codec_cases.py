"""Values that rankflow's cbor and msgpack codecs must carry between Python and
JavaScript without silent change. Run as a script:

    python3 codec_cases.py fixtures   > test/fixtures/python-codecs.json
    python3 codec_cases.py check      < {"name": {"cbor": hex, "msgpack": hex}}

`fixtures` writes what cbor2 and msgpack produce for every case (checked in,
decoded by test/interop/python-codecs.test.ts); `check` decodes what rankflow
produced for the same cases and prints, as JSON, the cases that differ.
"""
import datetime
import json
import math
import sys

import cbor2
import msgpack

CASES = {
    "int and str keys": {1: "int", "1": "str"},
    "bool, null and float keys": {True: "x", None: "y", 1.5: "z"},
    "bytes key": {b"\x01\x02": 1},
    "tuple key": {(1, 2): "pair"},
    "string keys": {"a": [1, 2.5, "s", None, True], "b": {"c": b"bytes"}, "": 0},
    "proto key": {"__proto__": 1, "x": 2},
    "empty map": {},
    "ints": [0, -1, 23, 24, 255, 256, 2**31 - 1, -2**31, -2**31 - 1, 2**32 - 1, 2**32, 2**40,
             2**53 - 1, -(2**53 - 1)],
    "big ints": [2**53, -2**53, 2**63 - 1, -2**63, 2**64 - 1],
    "floats": [1.5, -0.0, 1e300, math.inf, -math.inf],
    "strings": ["", "ascii", "é", "😀 mpi4py", "x" * 300],
    "nested": [[], [[1], {"k": [{"deep": None}]}]],
    "mixed keys, string first": {"b": 1, "1": 2, 3: 4},
}
CBOR_ONLY = {
    "huge ints": [2**64, -2**64 - 1, 2**100, -(3**80)],
    "set": {1, 2, 3},
}


def normalize(value):
    """Lists as tuples (what a map key must be in Python), recursively; NaN-free values compare with ==."""
    if isinstance(value, (list, tuple)):
        return tuple(normalize(v) for v in value)
    if isinstance(value, dict):
        return {normalize(k): normalize(v) for k, v in value.items()}
    if isinstance(value, (set, frozenset)):
        return frozenset(normalize(v) for v in value)
    if isinstance(value, cbor2.CBORTag) and value.tag == 259:
        return normalize(value.value)
    return value


def same(a, b):
    """Equal, with the same types (1 is not 1.0 and not True here), -0.0 kept apart from 0.0."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return a == b and math.copysign(1, a) == math.copysign(1, b)
    if isinstance(a, tuple):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return len(a) == len(b) and all(any(same(k, j) and same(v, a_v) for j, a_v in a.items()) for k, v in b.items())
    if isinstance(a, frozenset):
        return a == b
    return a == b


def map_tag(decoder, tag):
    # Tag 259 (a map meant as a Map) is what rankflow writes for a JS Map: a dict here.
    return tag.value if tag.tag == 259 else tag


def decoders():
    return {
        "cbor": lambda b: cbor2.loads(b, tag_hook=map_tag),
        "msgpack": lambda b: msgpack.unpackb(b, strict_map_key=False, use_list=False, raw=False),
    }


def main():
    mode = sys.argv[1] if len(sys.argv) > 1 else ""
    if mode == "fixtures":
        out = {name: {"cbor": cbor2.dumps(v).hex(), "msgpack": msgpack.packb(v, use_bin_type=True).hex()}
               for name, v in CASES.items()}
        out.update({name: {"cbor": cbor2.dumps(v).hex()} for name, v in CBOR_ONLY.items()})
        json.dump(out, sys.stdout, indent=1, sort_keys=True)
        print()
    elif mode == "check":
        given = json.load(sys.stdin)
        expected = {**CASES, **CBOR_ONLY}
        failures = []
        for name, encodings in given.items():
            for codec, hexed in encodings.items():
                try:
                    got = normalize(decoders()[codec](bytes.fromhex(hexed)))
                except Exception as e:  # a decoder that refuses the bytes is a failure to report
                    failures.append({"case": name, "codec": codec, "error": repr(e)})
                    continue
                if not same(got, normalize(expected[name])):
                    failures.append({"case": name, "codec": codec, "got": repr(got)})
        json.dump({"checked": sum(len(e) for e in given.values()), "failures": failures}, sys.stdout)
        print()
    else:
        sys.exit("usage: codec_cases.py fixtures | check")


if __name__ == "__main__":
    main()
