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
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        .systemLibrary(
            name: "CBCC",
            path: "Sources/CBCC",
            pkgConfig: "libbcc",
            providers: [.apt(["libbpfcc-dev"])]
        ),
        .target(name: "SwiftBCC", dependencies: ["CBCC"]),
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
            dependencies: ["SwiftBCC", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "Sources/Benchmarks/EventPathBench"
        ),
        .testTarget(name: "SwiftBCCTests", dependencies: ["SwiftBCC"]),
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
    .executableTarget(name: "swiftbcc", path: "Sources/Tools/swiftbcc"),
]

// Map and start-up benchmarks (issue 13): SwiftBCC side by side with Python BCC and C on libbcc.
package.products += [
    .executable(name: "MapBench", targets: ["MapBench"]),
    .executable(name: "StartBench", targets: ["StartBench"]),
]
package.targets += [
    .target(name: "BenchSupport", dependencies: ["SwiftBCC"], path: "Sources/Benchmarks/BenchSupport"),
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
