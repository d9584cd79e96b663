internal import CBCC
import Glibc
import Synchronization

/// One table's open perf buffer: a libbcc perf reader (mmapped ring + perf event fd) per online
/// CPU, and the callback boxes libbcc hands back. Opened by `open`, read by `read`, freed by
/// `free` once the registry (`EventReaders`) says no poll uses it.
final class PerfReader: @unchecked Sendable {
    let table: String
    let mapFD: Int32
    let cpus: [Int]
    let readers: ContiguousArray<OpaquePointer>
    let fds: ContiguousArray<Int32>
    let boxes: [PerfCallbackBox]
    let state: CallbackState
    /// Owned by an event stream, which polls it on its own thread: `perfBufferPoll` skips it.
    let isPrivate: Bool
    /// Set once, when the buffer is closed (its callbacks are stopped then).
    private let retired = Atomic<Bool>(false)
    var isRetired: Bool { retired.load(ordering: .acquiring) }
    /// The polls (and ring adds) using this reader now: `EventReaders`' count, read and written
    /// only under its lock.
    var registryUses = 0
    /// Held while one of the readers is read (its callbacks run): it serializes libbcc's reader
    /// and guards no Swift state. Taken only by polls, which are never started from inside a
    /// callback and hold no other SwiftBCC lock meanwhile.
    private let readLock = Lock()

    init(table: String, mapFD: Int32, cpus: [Int], readers: ContiguousArray<OpaquePointer>,
         boxes: [PerfCallbackBox], state: CallbackState, isPrivate: Bool) {
        self.table = table
        self.mapFD = mapFD
        self.cpus = cpus
        self.readers = readers
        self.fds = ContiguousArray(readers.map { perf_reader_fd($0) })
        self.boxes = boxes
        self.state = state
        self.isPrivate = isPrivate
    }

    /// Reads reader `index`, running its callbacks on this thread, and returns the first error
    /// a callback threw. Reads of one buffer are serialized: its callbacks never run on two
    /// threads at once (polling threads may read different CPUs' readers), and a poll waits for
    /// another thread's read instead of skipping the reader (libbcc's own guard makes a
    /// concurrent `perf_reader_event_read` of the same reader return at once, which could leave
    /// a sample that arrived meanwhile waiting for the next wakeup).
    @inline(__always)
    func read(_ index: Int) -> (any Error)? {
        readLock.withLock { CallbackThread.dispatching { perf_reader_event_read(readers[index]) } }
        return state.takeError()
    }

    /// Marks the buffer closed and stops its callbacks; `free()` follows when no poll uses it.
    func retire() {
        retired.store(true, ordering: .releasing)
        state.close()
    }

    /// Frees the readers (unmaps the rings, disables and closes the perf events) and releases
    /// the boxes. Only once no poll uses them.
    func free() {
        for r in readers { perf_reader_free(UnsafeMutableRawPointer(r)) }
        for b in boxes { Unmanaged.passUnretained(b).release() }
    }
}

