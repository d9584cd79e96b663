import BenchSupport
// The other consumers EventPathBench runs side by side with SwiftBCC, as source text: a C
// program on libbcc's C API (compiled at run time with gcc, linked with -lbcc) and a Python
// BCC script (run with /usr/bin/python3). Both take the same arguments:
//   PERF_PROGRAM RING_PROGRAM PAGES EVENTS BATCH ROUNDS BASE CPU PATHS
// load the same BPF program text (files the benchmark writes), pin to the same CPU, fill the
// buffers the same way (getpgid(BASE) calls, BATCH events each), time only the consume call,
// and print one line per path: "RESULT <path> <best ns/event> <received> <expected>" or
// "SKIP <path> <reason>".

enum Consumers {
    /// The C consumer: perf buffers with bpf_open_perf_buffer on each online CPU (fds stored
    /// into the perf event array with bpf_update_elem) drained by perf_reader_consume; the ring
    /// buffer with bpf_new_ringbuf drained by bpf_consume_ringbuf. Paths: perf, ring.
    static let c = #"""
// C consumer on libbcc's C API for EventPathBench (see Consumers.swift).
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <bcc/bcc_common.h>
#include <bcc/libbpf.h>
#include <bcc/perf_reader.h>

struct data_t { unsigned int tgid; int seq; unsigned long long ts; char comm[16]; };

static long received;
static long long seqsum;

static void on_perf(void *cookie, void *raw, int size) {
    (void)cookie;
    if (size < (int)sizeof(struct data_t)) return;
    struct data_t d;
    memcpy(&d, raw, sizeof d);
    received++;
    seqsum += d.seq;
}

static int on_ring(void *ctx, void *data, size_t size) {
    (void)ctx;
    if (size < sizeof(struct data_t)) return 0;
    struct data_t d;
    memcpy(&d, data, sizeof d);
    received++;
    seqsum += d.seq;
    return 0;
}

static const char *fn_name = "tracepoint__syscalls__sys_enter_getpgid";
static int pages, events, batch, rounds, base;

struct loaded { void *mod; int progfd; int tpfd; };

static char *read_file(const char *path) {
    FILE *f = fopen(path, "r");
    if (!f) return NULL;
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    size_t n;
    while (buf && (n = fread(buf + len, 1, cap - len - 1, f)) > 0) {
        len += n;
        if (cap - len < 2) buf = realloc(buf, cap *= 2);
    }
    fclose(f);
    if (buf) buf[len] = 0;
    return buf;
}

static void unload(struct loaded *l) {
    if (l->tpfd >= 0) bpf_close_perf_event_fd(l->tpfd);
    if (l->progfd >= 0) close(l->progfd);
    if (l->mod) bpf_module_destroy(l->mod);
    l->tpfd = l->progfd = -1;
    l->mod = NULL;
}

static bool load(const char *path, struct loaded *l, const char *what) {
    l->mod = NULL; l->progfd = l->tpfd = -1;
    char *text = read_file(path);
    if (!text) { printf("SKIP %s cannot read %s: %s\n", what, path, strerror(errno)); return false; }
    char tgid[32], basedef[32], batchdef[32];
    snprintf(tgid, sizeof tgid, "-DTGID=%d", (int)getpid());
    snprintf(basedef, sizeof basedef, "-DBASE=%d", base);
    snprintf(batchdef, sizeof batchdef, "-DBATCH=%d", batch);
    const char *cflags[] = { tgid, basedef, batchdef };
    l->mod = bpf_module_create_c_from_string(text, 0, cflags, 3, true, NULL);
    free(text);
    if (!l->mod) { printf("SKIP %s bpf_module_create_c_from_string failed\n", what); return false; }
    void *start = bpf_function_start(l->mod, fn_name);
    size_t size = bpf_function_size(l->mod, fn_name);
    if (!start) { printf("SKIP %s no function %s\n", what, fn_name); unload(l); return false; }
    l->progfd = bcc_prog_load(BPF_PROG_TYPE_TRACEPOINT, fn_name, start, (int)size,
                              bpf_module_license(l->mod), bpf_module_kern_version(l->mod), 0, NULL, 0);
    if (l->progfd < 0) { printf("SKIP %s bcc_prog_load: %s\n", what, strerror(errno)); unload(l); return false; }
    l->tpfd = bpf_attach_tracepoint(l->progfd, "syscalls", "sys_enter_getpgid");
    if (l->tpfd < 0) { printf("SKIP %s bpf_attach_tracepoint: %s\n", what, strerror(errno)); unload(l); return false; }
    return true;
}

static void fill(void) {
    for (int i = 0; i < events / batch; i++) (void)getpgid(base);
}

static long long now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
}

static void report(const char *what, double best) {
    printf("RESULT %s %.3f %ld %d\n", what, best, received, (events / batch) * batch);
    fflush(stdout);
}

// Online CPUs from /sys/devices/system/cpu/online ("0-1,4").
static int online_cpus(int *cpus, int max) {
    char *s = read_file("/sys/devices/system/cpu/online");
    int n = 0;
    if (!s) return 0;
    for (char *p = s; *p && *p != '\n';) {
        char *end;
        long a = strtol(p, &end, 10), b = a;
        if (end == p) break;
        if (*end == '-') { p = end + 1; b = strtol(p, &end, 10); }
        for (long c = a; c <= b && n < max; c++) cpus[n++] = (int)c;
        p = *end == ',' ? end + 1 : end;
    }
    free(s);
    return n;
}

static void run_perf(const char *path) {
    const char *what = "perf";
    struct loaded l;
    if (!load(path, &l, what)) return;
    int mapfd = bpf_table_fd(l.mod, "events");
    int cpus[1024];
    int ncpu = online_cpus(cpus, 1024);
    struct perf_reader *readers[1024];
    int nreaders = 0;
    for (int i = 0; i < ncpu; i++) {
        void *r = bpf_open_perf_buffer(on_perf, NULL, NULL, -1, cpus[i], pages);
        if (!r) { printf("SKIP %s bpf_open_perf_buffer(cpu %d) failed\n", what, cpus[i]); goto out; }
        readers[nreaders++] = r;
        int key = cpus[i], fd = perf_reader_fd(r);
        if (bpf_update_elem(mapfd, &key, &fd, 0) < 0) {
            printf("SKIP %s bpf_update_elem: %s\n", what, strerror(errno)); goto out;
        }
    }
    double best = 1e300;
    for (int round = 0; round < rounds; round++) {
        received = 0;
        fill();
        long long t0 = now_ns();
        perf_reader_consume(nreaders, readers);
        double ns = (double)(now_ns() - t0);
        double per = ns / (double)(received > 0 ? received : 1);
        if (per < best) best = per;
    }
    report(what, best);
out:
    unload(&l);  // detach first, as Python does, then free the readers
    for (int i = 0; i < nreaders; i++) perf_reader_free(readers[i]);
}

static void run_ring(const char *path) {
    const char *what = "ring";
    struct loaded l;
    if (!load(path, &l, what)) return;
    int mapfd = bpf_table_fd(l.mod, "events");
    struct ring_buffer *rb = bpf_new_ringbuf(mapfd, on_ring, NULL);
    if (!rb) { printf("SKIP %s bpf_new_ringbuf failed\n", what); unload(&l); return; }
    double best = 1e300;
    for (int round = 0; round < rounds; round++) {
        received = 0;
        fill();
        long long t0 = now_ns();
        bpf_consume_ringbuf(rb);
        double ns = (double)(now_ns() - t0);
        double per = ns / (double)(received > 0 ? received : 1);
        if (per < best) best = per;
    }
    report(what, best);
    unload(&l);
    bpf_free_ringbuf(rb);
}

int main(int argc, char **argv) {
    if (argc != 10) {
        fprintf(stderr, "usage: %s PERF_PROGRAM RING_PROGRAM PAGES EVENTS BATCH ROUNDS BASE CPU PATHS\n", argv[0]);
        return 2;
    }
    pages = atoi(argv[3]); events = atoi(argv[4]); batch = atoi(argv[5]);
    rounds = atoi(argv[6]); base = atoi(argv[7]);
    int cpu = atoi(argv[8]);
    const char *modes = argv[9];
    if (pages <= 0 || events <= 0 || batch <= 0 || rounds <= 0) { fprintf(stderr, "bad numbers\n"); return 2; }
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    if (sched_setaffinity(0, sizeof set, &set) != 0) fprintf(stderr, "sched_setaffinity: %s\n", strerror(errno));
    if (strstr(modes, "perf")) run_perf(argv[1]);
    if (strstr(modes, "ring")) run_ring(argv[2]);
    return 0;
}
"""#

    /// The Python BCC consumer. Paths: perf-noop, perf-event, ring-noop, ring-event, ring-event0.
    static let python = #"""
# Python BCC consumer for EventPathBench (see Consumers.swift).
import ctypes as ct
import os
import sys
import time

from bcc import BPF

perf_path, ring_path = sys.argv[1], sys.argv[2]
pages, events, batch, rounds, base, cpu = (int(a) for a in sys.argv[3:9])
modes = sys.argv[9].split(",")
expected = (events // batch) * batch

os.sched_setaffinity(0, {cpu})
libc = ct.CDLL(None, use_errno=True)
libc.getpgid.argtypes = [ct.c_int]
cflags = ["-DTGID=%d" % os.getpid(), "-DBASE=%d" % base, "-DBATCH=%d" % batch]
n = 0
total = 0


def fill():
    for _ in range(events // batch):
        libc.getpgid(base)


def measure(name, consume):
    global n
    best = float("inf")
    received = 0
    for _ in range(rounds):
        n = 0
        fill()
        start = time.perf_counter_ns()
        consume()
        ns = time.perf_counter_ns() - start
        received = n
        best = min(best, ns / max(n, 1))
    print("RESULT %s %.3f %d %d" % (name, best, received, expected), flush=True)


def load(path):
    with open(path) as f:
        return BPF(text=f.read(), cflags=cflags)


# (a) A callback that does nothing with the data (it only counts the call).
def perf_noop(cpu, data, size):
    global n
    n += 1


def ring_noop(ctx, data, size):
    global n
    n += 1
    return 0


for mode in modes:
    try:
        if mode in ("perf-noop", "perf-event"):
            b = load(perf_path)
            if mode == "perf-noop":
                b["events"].open_perf_buffer(perf_noop, page_cnt=pages)
            else:
                # (b) The idiomatic decode, as in bcc's examples.
                def perf_event(cpu, data, size):
                    global n, total
                    event = b["events"].event(data)
                    n += 1
                    total += event.seq
                b["events"].open_perf_buffer(perf_event, page_cnt=pages)
            measure(mode, b.perf_buffer_consume)
        elif mode in ("ring-noop", "ring-event", "ring-event0"):
            b = load(ring_path)
            if mode == "ring-noop":
                b["events"].open_ring_buffer(ring_noop)
            elif mode == "ring-event":
                # As bcc's examples/ringbuf/*.py: the callback returns nothing (None), which
                # open_ring_buffer's wrapper turns into 0 through a caught int(None) TypeError.
                def ring_event(ctx, data, size):
                    global n, total
                    event = b["events"].event(data)
                    n += 1
                    total += event.seq
                b["events"].open_ring_buffer(ring_event)
            else:
                # The same decode returning 0: Python's best case.
                def ring_event0(ctx, data, size):
                    global n, total
                    event = b["events"].event(data)
                    n += 1
                    total += event.seq
                    return 0
                b["events"].open_ring_buffer(ring_event0)
            measure(mode, b.ring_buffer_consume)
        else:
            print("SKIP %s unknown path" % mode, flush=True)
            continue
        b.cleanup()
    except Exception as e:
        print("SKIP %s %s" % (mode, str(e).replace("\n", " ")), flush=True)
"""#
}
