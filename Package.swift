// swift-tools-version: 6.0
// Layers point one way: sentry -> Syscalls -> Sentry -> CSwitch (see DESIGN.md).
import PackageDescription

// Generic types the code names concretely (Set<String>, [Int32: Entry]...)
// get their metadata through accessors handed the witness tables the
// compiler already knows, not by demangling a name at run time: that path
// checks each conformance by scanning all ~3,600 conformance records of the
// static binary, about 1.5 ms of every `sentry run`'s start.
//
// Release builds leave out the run-time exclusivity checks (swift_beginAccess
// on every inout or modify of a class's stored property: about 1,600
// instructions of a trapped getppid's 11,000 in the sentry, measured with
// callgrind); debug builds, which the tests run, keep them.
let speed: [SwiftSetting] = [
    .unsafeFlags(["-Xfrontend", "-disable-concrete-type-metadata-mangled-name-accessors"]),
    .unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release)),
]

let package = Package(
    name: "Sentry",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "sentry", targets: ["sentry"]),
        .library(name: "Sentry", targets: ["Sentry"]),
        .library(name: "Syscalls", targets: ["Syscalls"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        .target(
            name: "CSwitch",
            cSettings: [.define("_GNU_SOURCE")],
            linkerSettings: [.linkedLibrary("z")]
        ),
        .target(name: "Sentry", dependencies: ["CSwitch"], swiftSettings: speed),
        .target(name: "Syscalls", dependencies: ["Sentry"], swiftSettings: speed),
        .executableTarget(
            name: "sentry",
            dependencies: [
                "Sentry", "Syscalls", "CSwitch",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: speed
        ),
        .testTarget(
            name: "SentryTests",
            dependencies: ["Sentry", "Syscalls", "CSwitch", "sentry"]
        ),
    ]
)
