#!/usr/bin/env python3
"""Writes the api_sequence seeds of corpus/api_sequence/ (the byte layout read by
src/api_sequence.rs: header, then per call an opcode, an exporter index, arguments)."""
import os

def cfg(v6=0, coll=1, src=2, mtu_mode=6, ti=20, cksum=1, rel=0):
    # v6, collector selector, source family flip (0: same), source selector,
    # port mode 1 (4739), MTU mode, interval mode 2 + value, checksum, reliability, fib
    return [v6, coll, 0, src, 1, mtu_mode, 2, ti, cksum, rel, 0]

def exporter_set(e, **kw): return [0, e] + cfg(**kw)
def exporter_create(**kw): return [1, 0] + cfg(**kw)
def exporter_delete(e): return [2, e]
def field(id_mode, len_mode): return [id_mode, len_mode, 1]
def report_add(e, d, p, fields, opaque=1):
    return [3, e, d, p, len(fields)] + sum(fields, []) + [opaque]
def vpp_add(e, d, p, fields, opaque=2, add=True):
    return [4 if add else 5, e, d, p, len(fields)] + sum((f + [0, 0] for f in fields), []) + [opaque]
def report_delete(e, d, p, opaque=1): return [6, e, d, p, opaque]
def reports_reset(e): return [7, e]
def stream_reset(e, s): return [8, e, s]
def stream_change(e, old, new): return [9, e] + list(old) + list(new)
def append(e, r, t, fills): return [10, e, r, t] + fills
def batch(e, r, t, n, fills): return [11, e, r, t, n] + fills * n
def reserve(e, r, t, fills): return [12, e, r, t] + fills
def send(e, r, t): return [13, e, r, t]
def idle(t, age): return [14, 0, t, age]
def flush(): return [15, 0]
def templates(): return [16, 0]
def template_send(e, r): return [17, e, r]
def clock(q): return [18, 0, q]
def fail_allocs(n): return [19, 0, n]

# Fields: (id mode k -> id 37k, length mode: 3 -> 3, 4 -> 5, 5 -> 7, 1 -> variable)
F3, F5, F7, VAR = field(1, 3), field(2, 4), field(3, 5), field(1, 1)
seeds = {
    "basic_v4": [1, 0] + exporter_set(0) + report_add(0, 1, 1, [F3, F5]) + templates()
        + append(0, 0, 0, [9, 9]) + append(0, 0, 1, [8, 8]) + batch(0, 0, 1, 30, [7, 7])
        + flush(),
    "threads_reset_idle": [3, 2] + exporter_set(0, rel=1) + report_add(0, 1, 1, [F3, F5])
        + report_add(0, 2, 2, [F7], opaque=2) + templates()
        + sum((append(0, r, t, [t, t]) for t in range(4) for r in (0,)), [])
        + batch(0, 1, 2, 60, [5]) + clock(200) + templates() + reports_reset(0)
        + append(0, 0, 3, [1, 1]) + send(0, 0, 3) + idle(1, 0) + stream_reset(0, 1)
        + reserve(0, 1, 0, [4]) + flush(),
    "v6_create_change_delete": [1, 0] + exporter_create(v6=1, coll=3, src=4, mtu_mode=2)
        + report_add(1, 1, 1, [F3, VAR]) + templates()
        + append(1, 0, 0, [3, 5, 1, 2, 3, 4, 5, 6]) + stream_change(1, (1, 1), (2, 3))
        + append(1, 0, 1, [3, 5, 1, 2, 3, 4, 5, 6]) + exporter_set(1, v6=1, coll=5, src=4)
        + append(1, 0, 0, [3, 5, 1, 2, 3, 4, 5, 6]) + exporter_delete(1) + flush(),
    "vpp_add_faults_delete": [0, 1] + exporter_set(0, mtu_mode=3)
        + vpp_add(0, 0, 0, [F3, F5, F7]) + templates() + append(0, 0, 0, [1, 2, 3])
        + fail_allocs(3) + sum((append(0, 0, 0, [4, 5, 6]) for _ in range(8)), [])
        + fail_allocs(255) + template_send(0, 0) + vpp_add(0, 0, 0, [F3, F5, F7], add=False)
        + flush(),
}
out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "corpus", "api_sequence")
for name, program in seeds.items():
    with open(os.path.join(out, name), "wb") as f:
        f.write(bytes(program))
