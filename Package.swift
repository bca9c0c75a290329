// swift-tools-version: 6.0
//
// inpars: synthetic training data for neural rankers (InPars), BM25 as Lucene computes it,
// and a monoT5 reranker on an OpenBLAS-backed tensor module. See Docs/architecture.md.

import PackageDescription

// MARK: - System libraries (one Swift module imports each, with `internal import`)

let systemLibraries: [Target] = [
    .systemLibrary(
        name: "CZlib", pkgConfig: "zlib",
        providers: [.apt(["zlib1g-dev"])]),
    .systemLibrary(
        name: "CCrypto", pkgConfig: "libcrypto",
        providers: [.apt(["libssl-dev"])]),
]

// MARK: - C kernels (run-time AVX2/AVX-512 dispatch; imported by InparsTensor only)

let kernels: [Target] = [
    .target(name: "CKernels"),
    // oneDNN (libdnnl-dev's headers; the library is opened on first use, not linked:
    // Sources/CDNNL/include/cdnnl.h).
    // OpenBLAS (opened on first use: Sources/CBLAS/include/cblas_lazy.h).
    .target(name: "CBLAS"),
    .target(name: "CDNNL"),
    // libcurl (libcurl4-openssl-dev's headers; opened on first use: Sources/CCurl/include/ccurl.h).
    .target(name: "CCurl"),
    // System calls the Glibc module does not export (sync_file_range); InparsCore only.
    .target(name: "CSystem"),
]

// MARK: - Library modules (arrows point one way; see Docs/architecture.md)

let argumentParser = Target.Dependency.product(
    name: "ArgumentParser", package: "swift-argument-parser")
/// YAML for `inpars pipeline` recipes (with line numbers for messages).
let yams = Target.Dependency.product(name: "Yams", package: "Yams")

let libraries: [Target] = [
    .target(name: "InparsCore", dependencies: ["CZlib", "CCrypto", "CSystem", "CKernels"]),
    .target(name: "InparsTensor", dependencies: ["CBLAS", "CDNNL", "CKernels"]),
    .target(name: "InparsTokenizers", dependencies: ["InparsCore"]),
    .target(name: "InparsModels", dependencies: ["InparsTensor", "InparsCore", "CKernels"]),
    .target(name: "InparsHTTP", dependencies: ["CCurl"]),
    .target(name: "InparsHub", dependencies: ["InparsHTTP", "InparsCore"]),
    .target(name: "InparsEval", dependencies: ["InparsCore"]),
    .target(name: "InparsBM25", dependencies: ["InparsCore", "CKernels"]),
    .target(
        name: "InparsRanker",
        dependencies: ["InparsModels", "InparsTensor", "InparsTokenizers", "InparsCore"]),
    .target(
        name: "InparsGeneration",
        dependencies: ["InparsHTTP", "InparsModels", "InparsTensor", "InparsTokenizers", "InparsCore"]),
    .target(name: "InparsFilter", dependencies: ["InparsRanker", "InparsBM25", "InparsCore"]),
    .target(
        name: "InparsTraining",
        dependencies: [
            "InparsRanker", "InparsModels", "InparsTensor", "InparsTokenizers", "InparsEval",
            "InparsCore",
        ]),
]

// MARK: - The command-line tool

let executables: [Target] = [
    .executableTarget(
        name: "inpars",
        dependencies: [
            "InparsCore", "InparsTensor", "InparsModels", "InparsHTTP", "InparsHub", "InparsEval",
            "InparsBM25", "InparsRanker", "InparsGeneration", "InparsFilter", "InparsTraining",
            argumentParser, yams,
        ],
        // Release builds link the Swift runtime and Foundation statically: the dynamic loader
        // otherwise spends a large share of a short command (`inpars search` on a small
        // collection) mapping and relocating 17 Swift libraries (Docs/performance.md). The
        // libraries after -static-stdlib are the static Foundation's own dependencies, which
        // its archives do not pull in by themselves in Swift 6's Foundation (ICU twice:
        // CoreFoundation needs it too). The binary is linked without PIE: its 82,638
        // relative relocations (Swift metadata) cost the loader about 1 ms of every command,
        // relocating and dirtying data pages (Docs/performance.md); the price is that the
        // executable's own addresses are not randomised. Debug builds (and so `swift test`,
        // whose CLI tests link this target's code) stay dynamic.
        linkerSettings: [
            .unsafeFlags(
                [
                    "-static-stdlib", "-l_FoundationICU", "-l_FoundationCollections",
                    "-l_FoundationCShims", "-lCoreFoundation", "-l_FoundationICU", "-lstdc++",
                    "-Xclang-linker", "-no-pie",
                ],
                .when(platforms: [.linux], configuration: .release))
        ]),
    // Release-build benchmarks: `swift run -c release inpars-bench --help`.
    .executableTarget(
        name: "inpars-bench",
        dependencies: [
            "InparsTensor", "InparsCore", "InparsTokenizers", "InparsModels", "InparsBM25",
            "InparsRanker", "InparsGeneration", "InparsHTTP", "InparsFilter", "InparsTraining",
            "InparsTestSupport", argumentParser,
        ],
        path: "Benchmarks/inpars-bench"),
]

// MARK: - Tests (fixtures live in Tests/Fixtures, found through InparsTestSupport)
//
// Every target lists exactly the modules its sources import (PackageManifestTests checks it,
// and that Docs/architecture.md's module diagram matches this file).

let tests: [Target] = [
    .target(name: "InparsTestSupport", dependencies: ["InparsCore"], path: "Tests/InparsTestSupport"),
    .testTarget(name: "InparsCoreTests", dependencies: ["InparsCore", "InparsTestSupport"]),
    .testTarget(
        name: "InparsTensorTests", dependencies: ["InparsTensor", "CKernels", "InparsTestSupport"]),
    .testTarget(
        name: "InparsTokenizersTests", dependencies: ["InparsTokenizers", "InparsTestSupport"]),
    .testTarget(
        name: "InparsModelsTests",
        dependencies: ["InparsModels", "InparsTensor", "InparsCore", "InparsTestSupport", "CKernels"]),
    .testTarget(name: "InparsHTTPTests", dependencies: ["InparsHTTP", "InparsTestSupport"]),
    .testTarget(
        name: "InparsHubTests",
        dependencies: ["InparsHub", "InparsHTTP", "InparsCore", "InparsRanker", "InparsTestSupport"]),
    .testTarget(
        name: "InparsEvalTests", dependencies: ["InparsEval", "InparsCore", "InparsTestSupport"]),
    .testTarget(
        name: "InparsBM25Tests",
        dependencies: ["InparsBM25", "InparsEval", "InparsCore", "InparsTestSupport", "CKernels"]),
    .testTarget(
        name: "InparsRankerTests",
        dependencies: [
            "InparsRanker", "InparsModels", "InparsTensor", "InparsTokenizers", "InparsCore",
            "InparsTestSupport",
        ]),
    .testTarget(
        name: "InparsGenerationTests",
        dependencies: [
            "InparsGeneration", "InparsHTTP", "InparsModels", "InparsTokenizers", "InparsCore",
            "InparsTestSupport",
        ]),
    .testTarget(
        name: "InparsFilterTests",
        dependencies: [
            "InparsFilter", "InparsRanker", "InparsBM25", "InparsCore", "InparsTestSupport",
        ]),
    .testTarget(
        name: "InparsTrainingTests",
        dependencies: [
            "InparsTraining", "InparsModels", "InparsTensor", "InparsRanker", "InparsEval",
            "InparsCore", "InparsTokenizers", "InparsTestSupport",
        ]),
    .testTarget(
        name: "InparsCLITests",
        dependencies: [
            "inpars", "InparsBM25", "InparsCore", "InparsRanker", "InparsTensor", "InparsTestSupport",
            argumentParser,
        ]),
]

// MARK: - Fuzzing (only with INPARS_FUZZ=1, as Scripts/fuzz.sh sets it; never in CI)

// One libFuzzer binary holding a target per parser (Fuzz/inpars-fuzz); the script builds it
// with `-sanitize=fuzzer,address` in its own scratch folder (.build-fuzz).
let fuzzers: [Target] =
    Context.environment["INPARS_FUZZ"] == "1"
    ? [
        .executableTarget(
            name: "inpars-fuzz",
            dependencies: [
                "InparsCore", "InparsModels", "InparsTokenizers", "InparsBM25", "InparsFilter",
                "InparsGeneration", "InparsTraining", "InparsHub",
            ],
            path: "Fuzz/inpars-fuzz",
            swiftSettings: [.unsafeFlags(["-parse-as-library"])])
    ] : []

let package = Package(
    name: "inpars",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "inpars", targets: ["inpars"])
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
    ],
    targets: systemLibraries + kernels + libraries + executables + tests + fuzzers
)
