// swift-tools-version: 6.0
// Layers point one way: sentry -> Syscalls -> Sentry -> CSwitch (see DESIGN.md).
import PackageDescription

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
            linkerSettings: [.linkedLibrary("seccomp")]
        ),
        .target(name: "Sentry", dependencies: ["CSwitch"]),
        .target(name: "Syscalls", dependencies: ["Sentry"]),
        .executableTarget(
            name: "sentry",
            dependencies: [
                "Sentry", "Syscalls",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .testTarget(
            name: "SentryTests",
            dependencies: ["Sentry", "Syscalls", "CSwitch", "sentry"]
        ),
    ]
)
