// libbcc's C API, and nothing of its C++ API (BPF.h, BPFTable.h, bpf_module.h do not import).
#ifndef SWIFTBCC_CBCC_SHIM_H
#define SWIFTBCC_CBCC_SHIM_H

#include <bcc/bcc_common.h>
#include <bcc/libbpf.h>
#include <bcc/perf_reader.h>
#include <bcc/bcc_syms.h>
#include <bcc/bcc_proc.h>
#include <bcc/bcc_usdt.h>
#include <bcc/bcc_version.h>

// From bcc_elf.h (whose other declarations SwiftBCC does not need): gives the memory of
// libbcc's unused LLVM pages back to the system. Python: BPF.free_bcc_memory().
int bcc_free_memory(void);

#include <dlfcn.h>
#include <stdio.h>

// libbcc's compiler half (libbcc.so.0: clang, LLVM, the BPFModule functions) is not linked:
// SwiftBCC links only libbcc_bpf (the bpf() wrappers, perf readers, symbols, USDT), and opens
// libbcc.so.0 with dlopen on the first compile, so a warm start from the compile cache never
// maps LLVM (docs/Performance.md, "Start-up"). These are the functions taken from it; each is
// called through `struct swiftbcc_libbcc`, whose fields have the declared functions' types.
#define SWIFTBCC_LIBBCC_FUNCTIONS(X) \
    X(bpf_module_create_c_from_string) X(bpf_module_destroy) X(bpf_module_license) \
    X(bpf_module_kern_version) X(bpf_num_functions) X(bpf_function_name) X(bpf_function_start) \
    X(bpf_function_size) X(bpf_num_tables) X(bpf_table_name) X(bpf_table_id) X(bpf_table_fd) \
    X(bpf_table_type_id) X(bpf_table_max_entries_id) X(bpf_table_flags_id) \
    X(bpf_table_key_desc) X(bpf_table_key_desc_id) X(bpf_table_leaf_desc) X(bpf_table_leaf_desc_id) \
    X(bpf_table_key_size) X(bpf_table_key_size_id) X(bpf_table_leaf_size) X(bpf_table_leaf_size_id) \
    X(bpf_table_key_snprintf) X(bpf_table_key_sscanf) X(bpf_table_leaf_snprintf) \
    X(bpf_table_leaf_sscanf) X(bpf_perf_event_fields) X(bpf_perf_event_field) X(bcc_func_load) \
    X(bcc_free_memory)

struct swiftbcc_libbcc {
#define SWIFTBCC_FIELD(name) __typeof__(&name) name;
    SWIFTBCC_LIBBCC_FUNCTIONS(SWIFTBCC_FIELD)
#undef SWIFTBCC_FIELD
    // 1 when libbcc.so.0 was opened with RTLD_DEEPBIND (its own copies of the functions it
    // shares with libbcc_bpf, and its own C++ globals); 0 under a sanitizer, which refuses it.
    int deep_bound;
    // dlopen's handle (never closed).
    void *handle;
};

// Opens `path` (libbcc.so.0) and fills `api`: 0, or -1 with what failed in `error`.
// RTLD_LOCAL keeps its symbols out of the global scope; RTLD_DEEPBIND makes libbcc.so.0 bind
// to its own definitions of the symbols libbcc_bpf also exports (without it, libbcc.so.0's C++
// globals resolve to libbcc_bpf's and are destroyed twice at exit: "double free or
// corruption"). ThreadSanitizer and AddressSanitizer abort on RTLD_DEEPBIND, so under them it
// is left out. The handle is never closed: libbcc cannot be unloaded safely.
static inline int swiftbcc_libbcc_open(const char *path, struct swiftbcc_libbcc *api, char *error, size_t error_len) {
    int flags = RTLD_NOW | RTLD_LOCAL;
    int deep = dlsym(RTLD_DEFAULT, "__tsan_init") == NULL && dlsym(RTLD_DEFAULT, "__asan_init") == NULL;
    if (deep) flags |= RTLD_DEEPBIND;
    void *handle = dlopen(path, flags);
    if (handle == NULL) {
        const char *why = dlerror();
        snprintf(error, error_len, "%s", why ? why : "dlopen failed");
        return -1;
    }
    memset(api, 0, sizeof(*api));
#define SWIFTBCC_RESOLVE(name) \
    api->name = (__typeof__(&name))dlsym(handle, #name); \
    if (api->name == NULL) { snprintf(error, error_len, "%s has no symbol %s", path, #name); return -1; }
    SWIFTBCC_LIBBCC_FUNCTIONS(SWIFTBCC_RESOLVE)
#undef SWIFTBCC_RESOLVE
    api->deep_bound = deep;
    api->handle = handle;
    return 0;
}

#include <elf.h>
#include <link.h>
#include <sys/mman.h>
#ifndef RTLD_DI_LINKMAP  // <dlfcn.h> declares dlinfo only with _GNU_SOURCE
#define RTLD_DI_LINKMAP 2
extern int dlinfo(void *handle, int request, void *arg);
#endif
#include <string.h>
#include <unistd.h>

// glibc relocates the pointers of a loaded object's dynamic section in place; an unrelocated
// one (smaller than the load address) is relative to it.
static inline uintptr_t swiftbcc_dyn_address(ElfW(Addr) base, ElfW(Addr) value) {
    return value < base ? base + value : value;
}

// The object's read-only-after-relocation range (PT_GNU_RELRO), read from its program headers,
// which the first PT_LOAD maps at the load address with the ELF header; 0, 0 when it has none.
static inline void swiftbcc_relro_range(ElfW(Addr) base, uintptr_t *start, uintptr_t *end) {
    *start = 0;
    *end = 0;
    const ElfW(Ehdr) *header = (const ElfW(Ehdr) *)base;
    if (memcmp(header->e_ident, ELFMAG, SELFMAG) != 0) return;
    const ElfW(Phdr) *phdrs = (const ElfW(Phdr) *)(base + header->e_phoff);
    for (ElfW(Half) i = 0; i < header->e_phnum; i++) {
        if (phdrs[i].p_type == PT_GNU_RELRO) {
            *start = base + phdrs[i].p_vaddr;
            *end = *start + phdrs[i].p_memsz;
        }
    }
}

// Points the PLT slot through which the object opened as `handle` calls the function `symbol`
// (its own exported function or an imported one) at `replacement`, and returns what the slot
// held, or NULL when the object has no such slot (then nothing changed). The slot must be bound
// already (RTLD_NOW). A slot inside the object's read-only-after-relocation part (full RELRO)
// is made writable for the store and read-only again after it.
static inline void *swiftbcc_replace_plt_slot(void *handle, const char *symbol, void *replacement) {
    struct link_map *map = NULL;
    if (handle == NULL || dlinfo(handle, RTLD_DI_LINKMAP, &map) != 0 || map == NULL) return NULL;
    ElfW(Addr) base = map->l_addr;
    const ElfW(Sym) *symtab = NULL;
    const char *strtab = NULL;
    const ElfW(Rela) *relocations = NULL;
    size_t size = 0;
    ElfW(Sxword) kind = 0;
    for (const ElfW(Dyn) *d = map->l_ld; d->d_tag != DT_NULL; d++) {
        switch (d->d_tag) {
        case DT_SYMTAB: symtab = (const ElfW(Sym) *)swiftbcc_dyn_address(base, d->d_un.d_ptr); break;
        case DT_STRTAB: strtab = (const char *)swiftbcc_dyn_address(base, d->d_un.d_ptr); break;
        case DT_JMPREL: relocations = (const ElfW(Rela) *)swiftbcc_dyn_address(base, d->d_un.d_ptr); break;
        case DT_PLTRELSZ: size = d->d_un.d_val; break;
        case DT_PLTREL: kind = (ElfW(Sxword))d->d_un.d_val; break;
        default: break;
        }
    }
    if (symtab == NULL || strtab == NULL || relocations == NULL || kind != DT_RELA) return NULL;
    for (size_t i = 0; i < size / sizeof(ElfW(Rela)); i++) {
        const ElfW(Rela) *r = &relocations[i];
        if (ELF64_R_TYPE(r->r_info) != R_X86_64_JUMP_SLOT) continue;
        if (strcmp(strtab + symtab[ELF64_R_SYM(r->r_info)].st_name, symbol) != 0) continue;
        void **slot = (void **)(base + r->r_offset);
        uintptr_t relroStart, relroEnd;
        swiftbcc_relro_range(base, &relroStart, &relroEnd);
        int readOnly = (uintptr_t)slot >= relroStart && (uintptr_t)slot < relroEnd;
        uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
        void *start = (void *)((uintptr_t)slot & ~(page - 1));
        if (readOnly && mprotect(start, page, PROT_READ | PROT_WRITE) != 0) return NULL;
        void *previous = __atomic_exchange_n(slot, replacement, __ATOMIC_SEQ_CST);
        if (readOnly) mprotect(start, page, PROT_READ);
        return previous;
    }
    return NULL;
}

#include <linux/bpf.h>
#include <linux/perf_event.h>
#include <sys/syscall.h>
#include <sys/eventfd.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <string.h>

// The raw bpf(2) syscall, for the few commands libbcc's C API does not wrap
// (program id iteration, object info, BPF_PROG_ATTACH). syscall() is variadic,
// which Swift cannot call directly.
static inline long swiftbcc_bpf(int cmd, union bpf_attr *attr, unsigned int size) {
    return syscall(__NR_bpf, cmd, attr, size);
}

static inline int swiftbcc_get_next_id(int cmd, __u32 start, __u32 *next) {
    union bpf_attr attr;
    memset(&attr, 0, sizeof(attr));
    attr.start_id = start;
    int r = (int)syscall(__NR_bpf, cmd, &attr, sizeof(attr));
    if (r == 0) *next = attr.next_id;
    return r;
}

static inline int swiftbcc_prog_get_next_id(__u32 start, __u32 *next) {
    return swiftbcc_get_next_id(BPF_PROG_GET_NEXT_ID, start, next);
}

static inline int swiftbcc_map_get_next_id(__u32 start, __u32 *next) {
    return swiftbcc_get_next_id(BPF_MAP_GET_NEXT_ID, start, next);
}

static inline int swiftbcc_link_get_next_id(__u32 start, __u32 *next) {
    return swiftbcc_get_next_id(BPF_LINK_GET_NEXT_ID, start, next);
}

static inline int swiftbcc_prog_get_fd_by_id(__u32 id) {
    union bpf_attr attr;
    memset(&attr, 0, sizeof(attr));
    attr.prog_id = id;
    return (int)syscall(__NR_bpf, BPF_PROG_GET_FD_BY_ID, &attr, sizeof(attr));
}

static inline int swiftbcc_map_get_fd_by_id(__u32 id) {
    union bpf_attr attr;
    memset(&attr, 0, sizeof(attr));
    attr.map_id = id;
    return (int)syscall(__NR_bpf, BPF_MAP_GET_FD_BY_ID, &attr, sizeof(attr));
}

static inline int swiftbcc_obj_get_info_by_fd(int fd, void *info, __u32 *info_len) {
    union bpf_attr attr;
    memset(&attr, 0, sizeof(attr));
    attr.info.bpf_fd = fd;
    attr.info.info_len = *info_len;
    attr.info.info = (__u64)(unsigned long)info;
    int r = (int)syscall(__NR_bpf, BPF_OBJ_GET_INFO_BY_FD, &attr, sizeof(attr));
    if (r == 0) *info_len = attr.info.info_len;
    return r;
}

static inline int swiftbcc_prog_attach(int prog_fd, int target_fd, int attach_type, unsigned int flags) {
    union bpf_attr attr;
    memset(&attr, 0, sizeof(attr));
    attr.target_fd = target_fd;
    attr.attach_bpf_fd = prog_fd;
    attr.attach_type = attach_type;
    attr.attach_flags = flags;
    return (int)syscall(__NR_bpf, BPF_PROG_ATTACH, &attr, sizeof(attr));
}

static inline int swiftbcc_prog_detach(int prog_fd, int target_fd, int attach_type) {
    union bpf_attr attr;
    memset(&attr, 0, sizeof(attr));
    attr.target_fd = target_fd;
    attr.attach_bpf_fd = prog_fd;
    attr.attach_type = attach_type;
    return (int)syscall(__NR_bpf, BPF_PROG_DETACH, &attr, sizeof(attr));
}

// BPF_LINK_CREATE (kernel 5.7+; XDP links 5.9+): the link fd owns the attachment, which the
// kernel removes when the last fd to it closes, even when the process is killed.
static inline int swiftbcc_link_create(int prog_fd, int target_fd, int attach_type, unsigned int flags) {
    union bpf_attr attr;
    memset(&attr, 0, sizeof(attr));
    attr.link_create.prog_fd = prog_fd;
    attr.link_create.target_fd = target_fd;
    attr.link_create.attach_type = attach_type;
    attr.link_create.flags = flags;
    return (int)syscall(__NR_bpf, BPF_LINK_CREATE, &attr, sizeof(attr));
}

static inline int swiftbcc_attach_type_xdp(void) { return BPF_XDP; }

// BPF_OBJ_PIN / BPF_OBJ_GET (libbcc declares bpf_obj_pin but does not export it).
static inline int swiftbcc_obj_pin(int fd, const char *path) {
    union bpf_attr attr;
    memset(&attr, 0, sizeof(attr));
    attr.pathname = (__u64)(unsigned long)path;
    attr.bpf_fd = fd;
    return (int)syscall(__NR_bpf, BPF_OBJ_PIN, &attr, sizeof(attr));
}

static inline int swiftbcc_obj_get(const char *path) {
    union bpf_attr attr;
    memset(&attr, 0, sizeof(attr));
    attr.pathname = (__u64)(unsigned long)path;
    return (int)syscall(__NR_bpf, BPF_OBJ_GET, &attr, sizeof(attr));
}

// A perf event of type PERF_COUNT_SW_BPF_OUTPUT on one CPU, as libbcc's bpf_open_perf_buffer
// opens it (raw samples, period 1, `wakeup_events` samples per wakeup), for the SwiftBCC perf
// buffer reader that maps and reads the ring itself (PerfBufferReader). Disabled until enabled.
static inline int swiftbcc_perf_output_open(int cpu, int wakeup_events) {
    struct perf_event_attr attr;
    memset(&attr, 0, sizeof(attr));
    attr.type = PERF_TYPE_SOFTWARE;
    attr.size = sizeof(attr);
    attr.config = PERF_COUNT_SW_BPF_OUTPUT;
    attr.sample_type = PERF_SAMPLE_RAW;
    attr.sample_period = 1;
    attr.wakeup_events = (__u32)wakeup_events;
    attr.disabled = 1;
    return (int)syscall(__NR_perf_event_open, &attr, -1, cpu, -1, PERF_FLAG_FD_CLOEXEC);
}

// PERF_EVENT_IOC_ENABLE / _DISABLE (ioctl is variadic, which Swift cannot call).
static inline int swiftbcc_perf_event_enable(int fd, int enable) {
    return ioctl(fd, enable ? PERF_EVENT_IOC_ENABLE : PERF_EVENT_IOC_DISABLE, 0);
}

// memfd_create(2), used to capture what libbcc prints on fd 2.
static inline int swiftbcc_memfd(const char *name) {
    return (int)syscall(__NR_memfd_create, name, 0);
}

// A file descriptor that becomes readable when process `pid` exits (Linux 5.3+; -1 with
// errno before): what a wait with a deadline polls instead of waking to ask (syscall is
// variadic, which Swift cannot call).
static inline int swiftbcc_pidfd_open(pid_t pid) {
#ifndef __NR_pidfd_open
#define __NR_pidfd_open 434
#endif
    return (int)syscall(__NR_pidfd_open, pid, 0);
}

// Names the calling thread (prctl is variadic, which Swift cannot call).
static inline int swiftbcc_set_thread_name(const char *name) {
    return prctl(PR_SET_NAME, (unsigned long)name, 0, 0, 0);
}

// glibc 2.32+: "EPERM" for EPERM (declared by <string.h> only with _GNU_SOURCE).
extern const char *strerrorname_np(int errnum);

static inline const char *swiftbcc_errno_name(int code) {
    return strerrorname_np(code);
}

// libbpf's `struct bpf_prog_load_opts` (libbpf 0.7+ layout, up to log_buf), which libbcc's
// libbpf.h only forward-declares: the compile cache's warm start loads through libbcc's
// bcc_prog_load_xattr with the options bcc_func_load would fill. libbpf reads only the
// fields `sz` covers, so a newer libbpf with more fields takes this shorter struct.
struct swiftbcc_prog_load_opts {
    size_t sz;
    int attempts;
    int expected_attach_type;
    __u32 prog_btf_fd;
    __u32 prog_flags;
    __u32 prog_ifindex;
    __u32 kern_version;
    __u32 attach_btf_id;
    __u32 attach_prog_fd;
    __u32 attach_btf_obj_fd;
    const int *fd_array;
    const void *func_info;
    __u32 func_info_cnt;
    __u32 func_info_rec_size;
    const void *line_info;
    __u32 line_info_cnt;
    __u32 line_info_rec_size;
    __u32 log_level;
    __u32 log_size;
    char *log_buf;
};

// What libbcc's BPFModule::bcc_func_load does for a module without BTF and without a device:
// expected attach type when given, kern_version except for TRACING/EXT, the log level; the
// program name (kfunc__/lsm__ prefixes, attach_btf_id) is handled by bcc_prog_load_xattr.
static inline int swiftbcc_prog_load(int prog_type, const char *name, const struct bpf_insn *insns,
                                     int prog_len, const char *license, unsigned kern_version,
                                     int log_level, int expected_attach_type, bool allow_rlimit) {
    struct swiftbcc_prog_load_opts opts;
    memset(&opts, 0, sizeof(opts));
    opts.sz = sizeof(opts);
    if (expected_attach_type != -1) opts.expected_attach_type = expected_attach_type;
    if (prog_type != BPF_PROG_TYPE_TRACING && prog_type != BPF_PROG_TYPE_EXT) opts.kern_version = kern_version;
    opts.log_level = (__u32)log_level;
    return bcc_prog_load_xattr((enum bpf_prog_type)prog_type, name, license, insns,
                               (struct bpf_prog_load_opts *)&opts, prog_len, NULL, 0, allow_rlimit);
}

static inline int swiftbcc_create_map(int map_type, const char *name, int key_size, int value_size,
                                      int max_entries, int map_flags, bool allow_rlimit) {
    struct bcc_create_map_attr attr;
    memset(&attr, 0, sizeof(attr));
    attr.map_type = (enum bpf_map_type)map_type;
    attr.name = name;
    attr.key_size = (__u32)key_size;
    attr.value_size = (__u32)value_size;
    attr.max_entries = (__u32)max_entries;
    attr.map_flags = (__u32)map_flags;
    return bcc_create_map_xattr(&attr, allow_rlimit);
}

#endif
