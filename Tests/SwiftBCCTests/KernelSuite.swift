import Testing

/// Every suite that touches kernel-global state (trace_pipe, tracepoints, probes, the set of
/// loaded programs) is nested here, so they run one at a time. They compile with the test
/// process's own compile cache (`TestCompileCache`), not the user's.
@Suite("Kernel", .serialized, .testCompileCache)
struct KernelSuite {}
