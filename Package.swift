// swift-tools-version: 6.0
//
// inpars: synthetic training data for neural rankers (InPars), BM25 as Lucene computes it,
// and a monoT5 reranker on an OpenBLAS-backed tensor module. See Docs/architecture.md.

import PackageDescription

// MARK: - System libraries (one Swift module imports each, with `internal import`)

let systemLibraries: [Target] = [
    .systemLibrary(
        name: "CBLAS", pkgConfig: "openblas",
        providers: [.apt(["libopenblas-dev"])]),
    .systemLibrary(
        name: "CCurl", pkgConfig: "libcurl",
        providers: [.apt(["libcurl4-openssl-dev"])]),
    .systemLibrary(
        name: "CZlib", pkgConfig: "zlib",
        providers: [.apt(["zlib1g-dev"])]),
]

// MARK: - Library modules (arrows point one way; see Docs/architecture.md)

let argumentParser = Target.Dependency.product(
    name: "ArgumentParser", package: "swift-argument-parser")

let libraries: [Target] = [
    .target(name: "InparsCore", dependencies: ["CZlib"]),
    .target(name: "InparsTensor", dependencies: ["CBLAS"]),
    .target(name: "InparsTokenizers", dependencies: ["InparsCore"]),
    .target(
        name: "InparsModels", dependencies: ["InparsTensor", "InparsTokenizers", "InparsCore"]),
    .target(name: "InparsHTTP", dependencies: ["CCurl", "InparsCore"]),
    .target(name: "InparsEval", dependencies: ["InparsCore"]),
    .target(name: "InparsBM25", dependencies: ["InparsCore"]),
    .target(name: "InparsRanker", dependencies: ["InparsModels", "InparsEval", "InparsCore"]),
    .target(
        name: "InparsGeneration",
        dependencies: ["InparsHTTP", "InparsModels", "InparsCore"]),
    .target(name: "InparsFilter", dependencies: ["InparsRanker", "InparsBM25", "InparsCore"]),
    .target(name: "InparsTraining", dependencies: ["InparsRanker", "InparsModels", "InparsTensor", "InparsEval", "InparsCore"]),
]

// MARK: - The command-line tool

let executables: [Target] = [
    .executableTarget(
        name: "inpars",
        dependencies: [
            "InparsCore", "InparsTensor", "InparsTokenizers", "InparsModels", "InparsHTTP",
            "InparsEval", "InparsBM25", "InparsRanker", "InparsGeneration", "InparsFilter",
            "InparsTraining", argumentParser,
        ]),
    // Release-build benchmarks: `swift run -c release inpars-bench --help`.
    .executableTarget(
        name: "inpars-bench",
        dependencies: [
            "InparsTensor", "InparsCore", "InparsModels", "InparsBM25", "InparsEval",
            "InparsRanker", "InparsGeneration", "InparsHTTP", "InparsFilter", "InparsTraining",
            "InparsTestSupport", argumentParser,
        ],
        path: "Benchmarks/inpars-bench"),
]

// MARK: - Tests (fixtures live in Tests/Fixtures, found through InparsTestSupport)

let tests: [Target] = [
    .target(name: "InparsTestSupport", dependencies: ["InparsCore"], path: "Tests/InparsTestSupport"),
    .testTarget(name: "InparsCoreTests", dependencies: ["InparsCore", "InparsTestSupport"]),
    .testTarget(name: "InparsTensorTests", dependencies: ["InparsTensor", "InparsTestSupport"]),
    .testTarget(
        name: "InparsTokenizersTests", dependencies: ["InparsTokenizers", "InparsTestSupport"]),
    .testTarget(name: "InparsModelsTests", dependencies: ["InparsModels", "InparsTestSupport"]),
    .testTarget(name: "InparsHTTPTests", dependencies: ["InparsHTTP", "InparsTestSupport"]),
    .testTarget(name: "InparsEvalTests", dependencies: ["InparsEval", "InparsTestSupport"]),
    .testTarget(
        name: "InparsBM25Tests", dependencies: ["InparsBM25", "InparsEval", "InparsTestSupport"]),
    .testTarget(name: "InparsRankerTests", dependencies: ["InparsRanker", "InparsTestSupport"]),
    .testTarget(
        name: "InparsGenerationTests", dependencies: ["InparsGeneration", "InparsTestSupport"]),
    .testTarget(name: "InparsFilterTests", dependencies: ["InparsFilter", "InparsTestSupport"]),
    .testTarget(
        name: "InparsTrainingTests",
        dependencies: [
            "InparsTraining", "InparsModels", "InparsTensor", "InparsRanker", "InparsEval",
            "InparsCore", "InparsTokenizers", "InparsTestSupport",
        ]),
    .testTarget(name: "InparsCLITests", dependencies: ["inpars", "InparsTestSupport"]),
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
                "InparsGeneration", "InparsTraining",
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
    ],
    targets: systemLibraries + libraries + executables + tests + fuzzers
)
