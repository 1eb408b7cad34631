// swift-tools-version:6.0
import PackageDescription

// libFuzzer targets for Sluice's parsers, kept out of the main package so `swift build` there
// stays fast. Build with `-sanitize=fuzzer,address` (see run.sh): each executable's main.swift
// hands its `LLVMFuzzerTestOneInput` to libFuzzer's driver.
let targets = ["FuzzRequestHead", "FuzzResponseHead", "FuzzChunkedDecoder", "FuzzConfigLoader", "FuzzDNSMessage"]

let package = Package(
    name: "sluice-fuzz",
    platforms: [.macOS(.v15)],
    products: targets.map { .executable(name: $0, targets: [$0]) },
    dependencies: [.package(name: "sluice", path: "../..")],
    targets: [
        .target(name: "CFuzzShims"),
        .target(name: "FuzzSupport", dependencies: ["CFuzzShims", .product(name: "SluiceHTTP", package: "sluice")]),
        .executableTarget(
            name: "FuzzRequestHead", dependencies: ["FuzzSupport", .product(name: "SluiceHTTP", package: "sluice")]),
        .executableTarget(
            name: "FuzzResponseHead", dependencies: ["FuzzSupport", .product(name: "SluiceHTTP", package: "sluice")]),
        .executableTarget(
            name: "FuzzChunkedDecoder", dependencies: ["FuzzSupport", .product(name: "SluiceHTTP", package: "sluice")]),
        .executableTarget(
            name: "FuzzConfigLoader",
            dependencies: ["FuzzSupport", "CFuzzShims", .product(name: "SluiceConfig", package: "sluice")]),
        .executableTarget(
            name: "FuzzDNSMessage", dependencies: ["FuzzSupport", .product(name: "SluiceDiscovery", package: "sluice")]),
    ],
    swiftLanguageModes: [.v6]
)
