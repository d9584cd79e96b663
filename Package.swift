// swift-tools-version: 6.2
import PackageDescription

let package = Package(
    name: "SwiftBCC",
    products: [
        .library(name: "SwiftBCC", targets: ["SwiftBCC"]),
        .executable(name: "HelloWorld", targets: ["HelloWorld"]),
        .executable(name: "StrlenCount", targets: ["StrlenCount"]),
        .executable(name: "PacketCount", targets: ["PacketCount"]),
        .executable(name: "HelloLSM", targets: ["HelloLSM"]),
        .executable(name: "HelloMap", targets: ["HelloMap"]),
        .executable(name: "HelloTail", targets: ["HelloTail"]),
        .executable(name: "BiteHist", targets: ["BiteHist"]),
        .executable(name: "HelloBuffer", targets: ["HelloBuffer"]),
        .executable(name: "HelloPerfOutput", targets: ["HelloPerfOutput"]),
        .executable(name: "HelloRingBuffer", targets: ["HelloRingBuffer"]),
        // bcc tools (Sources/Tools): the shared tool module and one executable per tool.
        .library(name: "BCCTools", targets: ["BCCTools"]),
        .executable(name: "execsnoop", targets: ["execsnoop"]),
        .executable(name: "opensnoop", targets: ["opensnoop"]),
        .executable(name: "exitsnoop", targets: ["exitsnoop"]),
        .executable(name: "killsnoop", targets: ["killsnoop"]),
        .executable(name: "syncsnoop", targets: ["syncsnoop"]),
        .executable(name: "statsnoop", targets: ["statsnoop"]),
        .executable(name: "syscount", targets: ["syscount"]),
        .executable(name: "biolatency", targets: ["biolatency"]),
        .executable(name: "biosnoop", targets: ["biosnoop"]),
        .executable(name: "bitesize", targets: ["bitesize"]),
        .executable(name: "runqlat", targets: ["runqlat"]),
        .executable(name: "cpudist", targets: ["cpudist"]),
        .executable(name: "profile", targets: ["profile"]),
        .executable(name: "offcputime", targets: ["offcputime"]),
        .executable(name: "stackcount", targets: ["stackcount"]),
        .executable(name: "funccount", targets: ["funccount"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/swiftlang/swift-docc-plugin", from: "1.5.0"),
    ],
    targets: [
        .systemLibrary(
            name: "CBCC",
            path: "Sources/CBCC",
            // No pkgConfig: libbcc.pc says -lbcc, which would link LLVM into every binary.
            // module.modulemap links libbcc_bpf only; libbcc.so.0 (the compiler) is opened
            // with dlopen on the first compile (Sources/SwiftBCC/Compile/Compiler.swift).
            providers: [.apt(["libbpfcc-dev"])]
        ),
        // SHA-256, shared by the library (compile cache) and the script runner (which links no libbcc).
        .target(name: "BCCDigest", path: "Sources/BCCDigest"),
        .target(name: "SwiftBCC", dependencies: ["CBCC", "BCCDigest"]),
        .target(
            name: "ExampleSupport",
            dependencies: ["SwiftBCC", .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),
        .executableTarget(
            name: "HelloWorld",
            dependencies: ["SwiftBCC", "ExampleSupport",
                           .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "Sources/Examples/HelloWorld"
        ),
        .executableTarget(
            name: "StrlenCount",
            dependencies: ["SwiftBCC", "ExampleSupport",
                           .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "Sources/Examples/StrlenCount"
        ),
        .executableTarget(
            name: "PacketCount",
            dependencies: ["SwiftBCC", "ExampleSupport",
                           .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "Sources/Examples/PacketCount"
        ),
        .executableTarget(
            name: "HelloLSM",
            dependencies: ["SwiftBCC", "ExampleSupport",
                           .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "Sources/Examples/HelloLSM"
        ),
        .executableTarget(
            name: "HelloMap",
            dependencies: ["SwiftBCC", "ExampleSupport",
                           .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "Sources/Examples/HelloMap"
        ),
        .executableTarget(
            name: "HelloTail",
            dependencies: ["SwiftBCC", "ExampleSupport",
                           .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "Sources/Examples/HelloTail"
        ),
        .executableTarget(
            name: "BiteHist",
            dependencies: ["SwiftBCC", "ExampleSupport",
                           .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "Sources/Examples/BiteHist"
        ),
        .executableTarget(
            name: "HelloBuffer",
            dependencies: ["SwiftBCC", "ExampleSupport",
                           .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "Sources/Examples/HelloBuffer"
        ),
        .executableTarget(
            name: "HelloPerfOutput",
            dependencies: ["SwiftBCC", "ExampleSupport",
                           .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "Sources/Examples/HelloPerfOutput"
        ),
        .executableTarget(
            name: "HelloRingBuffer",
            dependencies: ["SwiftBCC", "ExampleSupport",
                           .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "Sources/Examples/HelloRingBuffer"
        ),
        .executableTarget(
            name: "EventPathBench",
            dependencies: ["SwiftBCC", "BenchSupport", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "Sources/Benchmarks/EventPathBench"
        ),
        .testTarget(name: "SwiftBCCTests", dependencies: ["SwiftBCC", "BCCTools"]),
        // bcc tools (Sources/Tools).
        .target(
            name: "BCCTools",
            dependencies: ["SwiftBCC", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "Sources/Tools/BCCTools"
        ),
        .executableTarget(
            name: "execsnoop",
            dependencies: ["SwiftBCC", "BCCTools", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "Sources/Tools/execsnoop"
        ),
        .executableTarget(
            name: "opensnoop",
            dependencies: ["SwiftBCC", "BCCTools", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "Sources/Tools/opensnoop"
        ),
        .executableTarget(
            name: "exitsnoop",
            dependencies: ["SwiftBCC", "BCCTools", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "Sources/Tools/exitsnoop"
        ),
        .executableTarget(
            name: "killsnoop",
            dependencies: ["SwiftBCC", "BCCTools", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "Sources/Tools/killsnoop"
        ),
        .executableTarget(
            name: "syncsnoop",
            dependencies: ["SwiftBCC", "BCCTools", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "Sources/Tools/syncsnoop"
        ),
        .executableTarget(
            name: "statsnoop",
            dependencies: ["SwiftBCC", "BCCTools", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "Sources/Tools/statsnoop"
        ),
        .executableTarget(
            name: "syscount",
            dependencies: ["SwiftBCC", "BCCTools", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "Sources/Tools/syscount"
        ),
        .executableTarget(
            name: "biolatency",
            dependencies: ["SwiftBCC", "BCCTools", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "Sources/Tools/biolatency"
        ),
        .executableTarget(
            name: "biosnoop",
            dependencies: ["SwiftBCC", "BCCTools", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "Sources/Tools/biosnoop"
        ),
        .executableTarget(
            name: "bitesize",
            dependencies: ["SwiftBCC", "BCCTools", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "Sources/Tools/bitesize"
        ),
        .executableTarget(
            name: "runqlat",
            dependencies: ["SwiftBCC", "BCCTools", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "Sources/Tools/runqlat"
        ),
        .executableTarget(
            name: "cpudist",
            dependencies: ["SwiftBCC", "BCCTools", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "Sources/Tools/cpudist"
        ),
        .executableTarget(
            name: "profile",
            dependencies: ["SwiftBCC", "BCCTools", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "Sources/Tools/profile"
        ),
        .executableTarget(
            name: "offcputime",
            dependencies: ["SwiftBCC", "BCCTools", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "Sources/Tools/offcputime"
        ),
        .executableTarget(
            name: "stackcount",
            dependencies: ["SwiftBCC", "BCCTools", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "Sources/Tools/stackcount"
        ),
        .executableTarget(
            name: "funccount",
            dependencies: ["SwiftBCC", "BCCTools", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "Sources/Tools/funccount"
        ),
    ],
    swiftLanguageModes: [.v6]
)

// The script runner (`swiftbcc script.swift`, issue 10) and the dynamic build of SwiftBCC that
// the scripts it compiles link against (packages keep using the `SwiftBCC` product above).
package.products += [
    .library(name: "SwiftBCCDynamic", type: .dynamic, targets: ["SwiftBCC"]),
    .executable(name: "swiftbcc", targets: ["swiftbcc"]),
]
package.targets += [
    .executableTarget(name: "swiftbcc", dependencies: ["BCCDigest"], path: "Sources/Tools/swiftbcc"),
]

// The compile child (issue 13): with `BPF.compilesInChild` a cold compile runs in this helper,
// found beside the executable, which stores the compile cache entry the tracer then starts from.
package.products += [
    .executable(name: "swiftbcc-compile", targets: ["swiftbcc-compile"]),
]
package.targets += [
    .executableTarget(name: "swiftbcc-compile", dependencies: ["SwiftBCC"], path: "Sources/Tools/swiftbcc-compile"),
]

// swiftbcc-exporter (issue 15): a Prometheus exporter of BPF maps in the shape of cloudflare's
// ebpf_exporter. The config/metrics logic is the `SwiftBCCExporter` library (unit-tested by
// SwiftBCCTests); the executable is a thin command line over it; ExporterBench times scrapes.
package.dependencies += [
    .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
    .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
    .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
    .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
    .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
]
package.products += [
    .library(name: "SwiftBCCExporter", targets: ["SwiftBCCExporter"]),
    .executable(name: "swiftbcc-exporter", targets: ["swiftbcc-exporter"]),
]
package.targets += [
    .target(
        name: "SwiftBCCExporter",
        dependencies: [
            "SwiftBCC",
            .product(name: "Prometheus", package: "swift-prometheus"),
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "Yams", package: "Yams"),
            .product(name: "Logging", package: "swift-log"),
        ],
        path: "Sources/Exporter/SwiftBCCExporter"
    ),
    .executableTarget(
        name: "swiftbcc-exporter",
        dependencies: ["SwiftBCCExporter", .product(name: "ArgumentParser", package: "swift-argument-parser")],
        path: "Sources/Tools/swiftbcc-exporter"
    ),
    .executableTarget(
        name: "ExporterBench",
        dependencies: ["SwiftBCC", "SwiftBCCExporter"],
        path: "Sources/Benchmarks/ExporterBench"
    ),
]
// The exporter's tests live with the others (KernelSuite, the Child helpers): they import it.
for target in package.targets where target.name == "SwiftBCCTests" {
    target.dependencies += ["SwiftBCCExporter"]
}

// Map and start-up benchmarks (issue 13): SwiftBCC side by side with Python BCC and C on libbcc.
package.products += [
    .executable(name: "MapBench", targets: ["MapBench"]),
    .executable(name: "ToolBench", targets: ["ToolBench"]),
    .executable(name: "StartBench", targets: ["StartBench"]),
]
package.targets += [
    .target(name: "BenchSupport", dependencies: ["SwiftBCC"], path: "Sources/Benchmarks/BenchSupport"),
    .executableTarget(
        name: "ToolBench",
        dependencies: ["SwiftBCC", "BenchSupport", .product(name: "ArgumentParser", package: "swift-argument-parser")],
        path: "Sources/Benchmarks/ToolBench"
    ),
    .executableTarget(
        name: "MapBench",
        dependencies: ["SwiftBCC", "BenchSupport", .product(name: "ArgumentParser", package: "swift-argument-parser")],
        path: "Sources/Benchmarks/MapBench"
    ),
    .executableTarget(
        name: "StartBench",
        dependencies: ["SwiftBCC", "BenchSupport", .product(name: "ArgumentParser", package: "swift-argument-parser")],
        path: "Sources/Benchmarks/StartBench"
    ),
]

// The fuzz target (issue 14): mutated programs and random API call sequences in child processes.
package.products += [
    .executable(name: "BPFFuzz", targets: ["BPFFuzz"]),
]
package.targets += [
    .executableTarget(
        name: "BPFFuzz",
        dependencies: ["SwiftBCC", "BenchSupport", .product(name: "ArgumentParser", package: "swift-argument-parser")],
        path: "Sources/Fuzz/BPFFuzz"
    ),
]

// More bcc tools (issue 12): network sessions and connects, DNS lookups, bash commands.
let moreTools = ["tcplife", "gethostlatency", "bashreadline", "tcpconnect"]
package.products += moreTools.map { .executable(name: $0, targets: [$0]) }
package.targets += moreTools.map { tool in
    .executableTarget(
        name: tool,
        dependencies: ["SwiftBCC", "BCCTools", .product(name: "ArgumentParser", package: "swift-argument-parser")],
        path: "Sources/Tools/\(tool)"
    )
}
