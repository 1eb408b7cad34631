// swift-tools-version:6.1
// Micro-benchmarks (ordo-one/benchmark), in their own package so `swift build` of Sluice stays fast.
// Run from this folder:  swift package --disable-sandbox benchmark
import PackageDescription

let package = Package(
    name: "sluice-micro",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "sluice", path: "../.."),
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
    ],
    targets: [
        .executableTarget(
            name: "SluiceMicro",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "SluiceHTTP", package: "sluice"),
                .product(name: "SluiceBalancing", package: "sluice"),
                .product(name: "SluiceProxy", package: "sluice"),
                .product(name: "SluiceConfig", package: "sluice"),
            ],
            path: "Benchmarks/SluiceMicro",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        )
    ]
)
