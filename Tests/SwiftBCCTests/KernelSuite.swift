import Testing

/// Every suite that touches kernel-global state (trace_pipe, tracepoints, probes, the set of
/// loaded programs) is nested here, so they run one at a time.
@Suite("Kernel", .serialized)
struct KernelSuite {}
