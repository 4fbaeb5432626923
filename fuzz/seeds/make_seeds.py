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
# The calls added later take opcode bytes 240..243 (older bytes keep their meaning).
def vpp_write(e, r, t, n, send, fills): return [240, e, r, t, n, send] + fills * n
def bad_offset(e, r, t, k, past_buffer, beyond, how, n_extra, fills, extra):
    return [241, e, r, t, k, past_buffer, beyond >> 8, beyond & 0xff, how, n_extra - 1] \
        + fills * k + extra
def refuse(on): return [242, 0, on]
# kind 0 stop, 1 stop and start again, 2/3 start; age byte a -> a/16 s (0xff NaN);
# period byte p -> (1 + p % 4) ms (0xff -1).
def timer(kind, age=0, period=0): return [243, 0, kind, age, period]

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
    "vpp_path": [1, 0] + exporter_set(0) + report_add(0, 1, 1, [F3, F5])
        + report_add(0, 2, 2, [F7, VAR], opaque=2) + templates()
        + vpp_write(0, 0, 0, 60, 0, [1, 2]) + append(0, 0, 0, [3, 4])
        + vpp_write(0, 1, 1, 5, 1, [6, 3, 1, 7, 8, 9]) + vpp_write(0, 0, 2, 1, 1, [1, 1])
        + idle(0, 0) + batch(0, 0, 1, 20, [5, 5]) + vpp_write(0, 0, 1, 3, 1, [2, 2])
        + reserve(0, 0, 0, [4, 4]) + vpp_write(0, 0, 0, 2, 0, [9, 9]) + flush(),
    "refused_packets": [1, 0] + exporter_set(0, rel=1) + report_add(0, 1, 1, [F3, F5])
        + templates() + append(0, 0, 0, [1, 1]) + append(0, 0, 1, [2, 2]) + refuse(1)
        + send(0, 0, 0) + batch(0, 0, 0, 40, [3, 3]) + clock(200) + templates()
        + vpp_write(0, 0, 1, 10, 1, [4, 4]) + idle(1, 0) + refuse(0) + append(0, 0, 0, [5, 5])
        + send(0, 0, 0) + exporter_create(coll=3) + report_add(1, 1, 1, [F3])
        + append(1, 0, 0, [6]) + refuse(1) + exporter_delete(1) + append(0, 0, 0, [7, 7])
        + refuse(0) + flush(),
    "timer": [2, 0] + exporter_set(0) + report_add(0, 1, 1, [F3, F5]) + templates()
        + append(0, 0, 1, [1, 1]) + timer(2) + clock(4) + timer(1, age=8)
        + vpp_write(0, 0, 0, 1, 1, [2, 2]) + append(0, 0, 2, [3, 3]) + reserve(0, 0, 0, [4, 4])
        + templates() + idle(1, 0) + timer(3) + timer(2, age=0xff) + timer(0) + timer(0)
        + vpp_write(0, 0, 0, 1, 1, [5, 5]) + append(0, 0, 1, [6, 6]) + clock(8) + timer(2)
        + append(0, 0, 2, [7, 7]) + flush(),
    "bad_offsets": [1, 0] + exporter_set(0) + report_add(0, 1, 1, [F3, F5])
        + report_add(0, 2, 2, [F7], opaque=2) + templates()
        # Report 0 takes two fill bytes a record (F3, F5), report 1 one (F7).
        + sum((bad_offset(0, how % 2, how % 2, 2, how % 2, 9, how, 2, [how] * (2 - how % 2),
                          [8] * (2 - how % 2)) for how in range(6)), [])
        + refuse(1) + bad_offset(0, 0, 1, 3, 1, 700, 5, 1, [1, 1], [2, 2]) + refuse(0)
        + bad_offset(0, 0, 0, 0, 0, 0, 0, 1, [], [3, 3]) + append(0, 0, 0, [4, 4]) + flush(),
}
out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "corpus", "api_sequence")
for name, program in seeds.items():
    with open(os.path.join(out, name), "wb") as f:
        f.write(bytes(program))
