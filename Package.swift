// swift-tools-version:6.0
import PackageDescription

let hot: [SwiftSetting] = [.unsafeFlags(["-enforce-exclusivity=unchecked"])]

let package = Package(
    name: "sluice",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "sluice", targets: ["sluice"]),
        .executable(name: "sluice-bench", targets: ["sluice-bench"]),
        .library(name: "SluiceHTTP", targets: ["SluiceHTTP"]),
        .library(name: "SluiceBalancing", targets: ["SluiceBalancing"]),
        .library(name: "SluiceProxy", targets: ["SluiceProxy"]),
        .library(name: "SluiceConfig", targets: ["SluiceConfig"]),
        .library(name: "SluiceDiscovery", targets: ["SluiceDiscovery"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.0.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-collections", from: "1.1.0"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift", from: "0.1.0"),
    ],
    targets: [
        .target(name: "CSluiceLinux"),
        .systemLibrary(name: "COpenSSL", pkgConfig: "openssl", providers: [.apt(["libssl-dev"])]),
        .target(name: "SluiceTLS", dependencies: ["COpenSSL"]),
        .target(name: "SluiceSystem", dependencies: ["CSluiceLinux"], swiftSettings: hot),
        .target(name: "SluiceBuffers", swiftSettings: hot),
        .target(name: "SluiceEventLoop", dependencies: ["SluiceSystem"], swiftSettings: hot),
        .target(name: "SluiceHTTP", dependencies: ["SluiceBuffers"], swiftSettings: hot),
        .target(
            name: "SluiceBalancing", dependencies: [.product(name: "DequeModule", package: "swift-collections")], swiftSettings: hot),
        .target(name: "SluiceCache", dependencies: ["SluiceHTTP", "SluiceBuffers"], path: "Sources/SluiceCache", swiftSettings: hot),
        .target(name: "SluiceConfig", dependencies: ["Yams", "SluiceSystem"]),
        .target(name: "SluiceDiscovery", dependencies: ["SluiceSystem", "SluiceEventLoop", "SluiceConfig"]),
        .target(
            name: "SluiceProxy",
            dependencies: [
                "SluiceSystem", "SluiceBuffers", "SluiceEventLoop", "SluiceHTTP", "SluiceBalancing", "SluiceConfig",
                "SluiceCache", "SluiceTLS", "SluiceDiscovery", .product(name: "Logging", package: "swift-log"),
                .product(name: "DequeModule", package: "swift-collections"),
            ],
            swiftSettings: hot),
        .target(name: "SluiceBackend", dependencies: ["SluiceSystem", "SluiceBuffers", "SluiceEventLoop", "SluiceHTTP"]),
        .executableTarget(
            name: "sluice",
            dependencies: [
                "SluiceProxy", "SluiceConfig", "SluiceBackend",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]),
        .executableTarget(
            name: "sluice-backend",
            dependencies: ["SluiceBackend", "SluiceSystem", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "Benchmarks/sluice-backend"),
        .target(
            name: "SluiceBenchKit",
            dependencies: [
                "SluiceSystem", "SluiceBuffers", "SluiceEventLoop", "SluiceHTTP", "SluiceBackend",
                .product(name: "Histogram", package: "hdrhistogram-swift"),
                .product(name: "DequeModule", package: "swift-collections"),
            ],
            path: "Benchmarks/SluiceBenchKit"),
        .executableTarget(
            name: "sluice-bench",
            dependencies: ["SluiceBenchKit", "SluiceSystem", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "Benchmarks/sluice-bench"),
        .testTarget(name: "SluiceBenchTests", dependencies: ["SluiceBenchKit", "SluiceConfig"]),
        .testTarget(name: "SluiceSystemTests", dependencies: ["SluiceSystem", "SluiceBuffers", "SluiceEventLoop"]),
        .testTarget(name: "SluiceHTTPTests", dependencies: ["SluiceHTTP"]),
        .testTarget(name: "SluiceConfigTests", dependencies: ["SluiceConfig"]),
        .testTarget(name: "SluiceBalancingTests", dependencies: ["SluiceBalancing"]),
        .testTarget(name: "SluiceCacheTests", dependencies: ["SluiceCache", "SluiceHTTP"]),
        // A real dnsmasq for the discovery tests (both suites start one).
        .target(name: "DNSTestSupport", dependencies: ["SluiceDiscovery", "SluiceSystem", "CSluiceLinux"], path: "Tests/DNSTestSupport"),
        .testTarget(
            name: "SluiceDiscoveryTests",
            dependencies: ["SluiceDiscovery", "SluiceSystem", "SluiceEventLoop", "SluiceConfig", "DNSTestSupport"]),
        .testTarget(
            name: "SluiceProxyTests",
            dependencies: ["SluiceProxy", "SluiceBackend", "SluiceConfig", "SluiceSystem", "SluiceHTTP", "DNSTestSupport"]),
    ],
    swiftLanguageModes: [.v6]
)
