// The compile child of `BPF.compilesInChild` (Sources/SwiftBCC/Compile/CompileChild.swift):
// SwiftBCC starts it with a compile request on stdin; it compiles the program with libbcc,
// stores the compile cache entry under $SWIFTBCC_CACHE_DIR and exits (0: stored, 70: the
// compile failed, its output on stderr; 71/72: nothing stored, the caller compiles itself).
// A crash of clang or LLVM ends only this process.
import Glibc
@_spi(CompileChild) import SwiftBCC

// _exit, not exit: the entry is stored (renamed into place) and stdio flushed by then, and
// exit would run libbcc's, clang's and LLVM's static destructors for nothing.
let status = BPF.compileChildMain()
fflush(nil)
_exit(status)
