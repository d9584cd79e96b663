@preconcurrency import Glibc

/// `fflush(stdout)`: what `print` buffered goes out, and no other stream is walked
/// (`fflush(nil)` visits every open stdio stream). glibc sets `stdout` once at start; Swift 6
/// refuses to read the C global outside a `@preconcurrency` import.
func flushStandardOutput() {
    fflush(stdout)
}
