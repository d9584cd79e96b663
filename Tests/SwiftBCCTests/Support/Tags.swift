import Testing

extension Tag {
    /// Runs in the VM lane too (scripts/vm-test): tests of kprobes, exact kernel headers and
    /// kfunc/LSM programs, which the host kernel may lack. scripts/vm-test lists the tests with
    /// this tag (the test binary's event stream) and runs exactly those in the VM, where none
    /// may be skipped.
    @Tag static var vmLane: Self
}
