// The other consumers MapBench runs side by side with SwiftBCC, as source text: a C program on
// libbcc's C API (compiled at run time with gcc, linked with -lbcc) and a Python BCC script
// (run with /usr/bin/python3). Both take the same arguments:
//   PROGRAM ENTRIES ROUNDS HISTPRINTS CPU OPS
// load the same BPF program text (a file the benchmark writes), pin to the same CPU, do the
// same operations on the same keys (0..<ENTRIES, value 2k+1), time only the operation, and
// print one line per operation: "RESULT <op> <best ns/op> <checksum>" or "SKIP <op> <reason>".
// The checksum (number of entries seen, or the sum of values) lets MapBench check that every
// consumer did the same work.

enum Consumers {
    /// The C consumer: bpf_update_elem / bpf_lookup_elem / bpf_delete_elem per key, a full dump
    /// with bpf_get_next_key + bpf_lookup_elem, batch dump with bpf_lookup_batch, batch update
    /// with bpf_update_batch, and the log2 histogram printed (Python's format) into a buffer
    /// from one bpf_lookup_batch of the histogram array.
    static let c = #"""
// C consumer on libbcc's C API for MapBench (see Consumers.swift).
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <bcc/bcc_common.h>
#include <bcc/libbpf.h>

static int entries, rounds, prints;
static int mapfd, histfd;
static uint64_t *keys, *vals, *outk, *outv;

static char *read_file(const char *path) {
    FILE *f = fopen(path, "r");
    if (!f) return NULL;
    size_t cap = 1 << 16, len = 0, n;
    char *buf = malloc(cap);
    while (buf && (n = fread(buf + len, 1, cap - len - 1, f)) > 0) {
        len += n;
        if (cap - len < 2) buf = realloc(buf, cap *= 2);
    }
    fclose(f);
    if (buf) buf[len] = 0;
    return buf;
}

static long long now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
}

static void clear_map(void) {
    uint64_t k, next;
    while (bpf_get_next_key(mapfd, NULL, &next) == 0) { k = next; bpf_delete_elem(mapfd, &k); }
}

static void fill_map(void) {
    for (int i = 0; i < entries; i++) bpf_update_elem(mapfd, &keys[i], &vals[i], 0);
}

static unsigned long long op_update(void) {
    for (int i = 0; i < entries; i++) bpf_update_elem(mapfd, &keys[i], &vals[i], 0);
    return entries;
}

static unsigned long long op_lookup(void) {
    unsigned long long sum = 0;
    for (int i = 0; i < entries; i++) {
        uint64_t v;
        if (bpf_lookup_elem(mapfd, &keys[i], &v) == 0) sum += v;
    }
    return sum;
}

static unsigned long long op_delete(void) {
    unsigned long long n = 0;
    for (int i = 0; i < entries; i++) if (bpf_delete_elem(mapfd, &keys[i]) == 0) n++;
    return n;
}

// A full dump as Python's items() does it: key by key.
static unsigned long long op_items(void) {
    unsigned long long sum = 0;
    uint64_t k, next, v;
    int n = 0;
    void *prev = NULL;
    while (bpf_get_next_key(mapfd, prev, &next) == 0) {
        k = next;
        prev = &k;
        if (bpf_lookup_elem(mapfd, &k, &v) == 0) { outk[n] = k; outv[n] = v; n++; sum += v; }
    }
    return sum;
}

static unsigned long long op_batch_dump(void) {
    unsigned long long sum = 0;
    uint64_t in = 0, out = 0;
    int n = 0, first = 1;
    for (;;) {
        uint32_t count = 4096;
        if (n + count > (uint32_t)entries) count = entries - n > 0 ? entries - n : 1;
        int rc = bpf_lookup_batch(mapfd, first ? NULL : &in, &out, outk + n, outv + n, &count);
        if (rc < 0 && errno != ENOENT) { fprintf(stderr, "bpf_lookup_batch: %s\n", strerror(errno)); return 0; }
        for (uint32_t i = 0; i < count; i++) sum += outv[n + i];
        n += count;
        first = 0;
        if (rc < 0 || count == 0 || n >= entries) break;
        in = out;
    }
    return sum;
}

static unsigned long long op_batch_update(void) {
    uint32_t count = entries;
    if (bpf_update_batch(mapfd, keys, vals, &count) < 0) { fprintf(stderr, "bpf_update_batch: %s\n", strerror(errno)); return 0; }
    return count;
}

// Python's print_log2_hist text for a 64-slot log2 histogram, into one buffer.
static char text[1 << 16];
static unsigned long long op_hist(void) {
    uint32_t hk[64];
    uint64_t hv[64], slots[65] = {0};
    uint32_t in = 0, out = 0, count = 64;
    int rc = bpf_lookup_batch(histfd, NULL, &out, hk, hv, &count);
    if (rc < 0 && errno != ENOENT) { fprintf(stderr, "bpf_lookup_batch(hist): %s\n", strerror(errno)); return 0; }
    (void)in;
    for (uint32_t i = 0; i < count; i++) if (hk[i] < 65) slots[hk[i]] = hv[i];
    int idx_max = -1;
    uint64_t val_max = 0;
    for (int i = 0; i < 65; i++) { if (slots[i] > 0) idx_max = i; if (slots[i] > val_max) val_max = slots[i]; }
    size_t len = 0;
    int stars_max = 40;
    if (idx_max > 0) len += snprintf(text + len, sizeof text - len, "     %-19s : count     distribution\n", "value");
    for (int i = 1; i <= idx_max; i++) {
        unsigned long long low = (1ULL << i) >> 1, high = (1ULL << i) - 1;
        if (low == high) low -= 1;
        uint64_t val = slots[i];
        char stars[41];
        int n = 0;
        double x = (double)(stars_max * val) / (double)val_max;
        while (!((double)n > x - 1 || n > stars_max - 1)) stars[n++] = '*';
        stars[n] = 0;
        len += snprintf(text + len, sizeof text - len, "%10llu -> %-10llu : %-8llu |%-40s|\n", low, high,
                        (unsigned long long)val, stars);
    }
    return len;
}

struct op { const char *name; unsigned long long (*fn)(void); int per; int needs_full; int clears_after; };

int main(int argc, char **argv) {
    if (argc != 7) { fprintf(stderr, "usage: %s PROGRAM ENTRIES ROUNDS HISTPRINTS CPU OPS\n", argv[0]); return 2; }
    entries = atoi(argv[2]); rounds = atoi(argv[3]); prints = atoi(argv[4]);
    int cpu = atoi(argv[5]);
    const char *ops = argv[6];
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    if (sched_setaffinity(0, sizeof set, &set) != 0) fprintf(stderr, "sched_setaffinity: %s\n", strerror(errno));
    char *src = read_file(argv[1]);
    if (!src) { printf("SKIP all cannot read %s\n", argv[1]); return 0; }
    char def[64];
    snprintf(def, sizeof def, "-DENTRIES=%d", entries);
    const char *cflags[] = { def };
    void *mod = bpf_module_create_c_from_string(src, 0, cflags, 1, true, NULL);
    free(src);
    if (!mod) { printf("SKIP all bpf_module_create_c_from_string failed\n"); return 0; }
    mapfd = bpf_table_fd(mod, "map");
    histfd = bpf_table_fd(mod, "hist");
    keys = malloc(8 * (size_t)entries); vals = malloc(8 * (size_t)entries);
    outk = malloc(8 * (size_t)entries + 8 * 4096); outv = malloc(8 * (size_t)entries + 8 * 4096);
    for (int i = 0; i < entries; i++) { keys[i] = i; vals[i] = 2ULL * i + 1; }
    for (uint32_t i = 1; i < 28; i++) { uint64_t v = (i * 7919ULL) % 1000 + 1; bpf_update_elem(histfd, &i, &v, 0); }

    // Each op: the map state it needs is set up untimed: update/batch-update start empty,
    // the others start full.
    struct op all[] = {
        { "update", op_update, entries, 0, 0 },
        { "lookup", op_lookup, entries, 1, 0 },
        { "items", op_items, entries, 1, 0 },
        { "batch-dump", op_batch_dump, entries, 1, 0 },
        { "delete", op_delete, entries, 1, 1 },
        { "batch-update", op_batch_update, entries, 0, 0 },
        { "hist", op_hist, 1, 0, 0 },
    };
    for (size_t j = 0; j < sizeof all / sizeof all[0]; j++) {
        struct op *o = &all[j];
        char want[64];
        snprintf(want, sizeof want, ",%s,", o->name);
        char list[1024];
        snprintf(list, sizeof list, ",%s,", ops);
        if (!strstr(list, want)) continue;
        double best = 1e300;
        unsigned long long check = 0;
        for (int r = 0; r < rounds; r++) {
            if (o->fn == op_hist) {
                long long t0 = now_ns();
                for (int p = 0; p < prints; p++) check = o->fn();
                double per = (double)(now_ns() - t0) / prints;
                if (per < best) best = per;
                continue;
            }
            clear_map();
            if (o->needs_full) fill_map();
            long long t0 = now_ns();
            check = o->fn();
            double per = (double)(now_ns() - t0) / o->per;
            if (per < best) best = per;
        }
        printf("RESULT %s %.3f %llu\n", o->name, best, check);
        fflush(stdout);
    }
    clear_map();
    bpf_module_destroy(mod);
    return 0;
}
"""#

    /// The Python BCC consumer: `t[k] = v` with ctypes keys, `t[k]`, `del t[k]`, `t.items()`,
    /// `list(t.items_lookup_batch())`, `t.items_update_batch(keys, values)` (ctypes arrays
    /// built untimed), and `hist.print_log2_hist()` into an io.StringIO.
    static let python = #"""
# Python BCC consumer for MapBench (see Consumers.swift).
import ctypes as ct
import io
import os
import sys
import time

from bcc import BPF

path = sys.argv[1]
entries, rounds, prints, cpu = (int(a) for a in sys.argv[2:6])
ops = sys.argv[6].split(",")
os.sched_setaffinity(0, {cpu})

with open(path) as f:
    b = BPF(text=f.read(), cflags=["-DENTRIES=%d" % entries])
t = b["map"]
h = b["hist"]
K, V = t.Key, t.Leaf
keys = [K(i) for i in range(entries)]
vals = [V(2 * i + 1) for i in range(entries)]
ct_keys = (K * entries)(*range(entries))
ct_vals = (V * entries)(*(2 * i + 1 for i in range(entries)))
for i in range(1, 28):
    h[ct.c_int(i)] = ct.c_ulonglong((i * 7919) % 1000 + 1)


def clear():
    t.items_delete_batch()


def fill():
    t.items_update_batch(ct_keys, ct_vals)


def op_update():
    for k, v in zip(keys, vals):
        t[k] = v
    return entries


def op_lookup():
    s = 0
    for k in keys:
        s += t[k].value
    return s


def op_delete():
    n = 0
    for k in keys:
        del t[k]
        n += 1
    return n


def op_items():
    return sum(v.value for _, v in t.items())


def op_batch_dump():
    return sum(v if isinstance(v, int) else v.value for _, v in list(t.items_lookup_batch()))


def op_batch_update():
    t.items_update_batch(ct_keys, ct_vals)
    return entries


def op_hist():
    out = sys.stdout
    buf = io.StringIO()
    sys.stdout = buf
    try:
        h.print_log2_hist()
    finally:
        sys.stdout = out
    return len(buf.getvalue())


table = [("update", op_update, False), ("lookup", op_lookup, True), ("items", op_items, True),
         ("batch-dump", op_batch_dump, True), ("delete", op_delete, True),
         ("batch-update", op_batch_update, False), ("hist", op_hist, None)]

for name, fn, full in table:
    if name not in ops:
        continue
    try:
        best = float("inf")
        check = 0
        for _ in range(rounds):
            if full is None:
                start = time.perf_counter_ns()
                for _ in range(prints):
                    check = fn()
                best = min(best, (time.perf_counter_ns() - start) / prints)
                continue
            clear()
            if full:
                fill()
            start = time.perf_counter_ns()
            check = fn()
            best = min(best, (time.perf_counter_ns() - start) / entries)
        print("RESULT %s %.3f %d" % (name, best, check), flush=True)
    except Exception as e:
        print("SKIP %s %s" % (name, str(e).replace("\n", " ")), flush=True)
clear()
b.cleanup()
"""#
}
