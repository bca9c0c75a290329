import Foundation
import InparsTensor

/// Settings the numeric libraries read once, when they are loaded, before `main`. The `inpars`
/// binary, starting a command that runs a model (``modelCommands``), sets the missing ones and
/// executes itself again, once; a user's own settings are left alone:
///
/// - `OPENBLAS_CORETYPE`, when OpenBLAS chose kernels narrower than the CPU can run (an
///   OpenBLAS older than the CPU falls back to SSE kernels: Debian's 0.3.21 on recent Xeons runs
///   at a third of its AVX-512 speed; ``BLAS/recommendedCoreType``). Said on stderr when it is
///   a terminal (a script's or test's captured stderr keeps its one-line errors).
/// - `GOMP_SPINCOUNT=1000`, when neither it nor `OMP_WAIT_POLICY` is set: oneDNN's OpenMP
///   threads (libgomp) otherwise spin after each matmul, taking a core from OpenBLAS and the
///   Swift code between matmuls, and an int8 forward ran at half speed (`Docs/performance.md`,
///   "bf16 and int8"). Without oneDNN in use it changes nothing.
///
/// It also keeps large allocations on the heap for model commands
/// (``AllocatorSettings/keepLargeAllocations()``, a `mallopt`, which needs no restart).
///
/// Only the executable's entry point calls this (tests that parse commands in-process never
/// restart themselves).
enum NumericsEnvironment {
    /// Subcommands that may load a model.
    static let modelCommands: Set<String> = ["rerank", "filter", "train", "generate", "pipeline"]
    static let spinCount = "1000"

    /// The variables to set for `arguments` (the process's argv) in `environment`, in order.
    static func missingSettings(
        arguments: [String], environment: [String: String], recommendedCore: () -> String?
    ) -> [(name: String, value: String)] {
        guard arguments.count > 1, modelCommands.contains(arguments[1]) else { return [] }
        var settings: [(name: String, value: String)] = []
        if environment["OPENBLAS_CORETYPE"] == nil, let core = recommendedCore() {
            settings.append(("OPENBLAS_CORETYPE", core))
        }
        if environment["GOMP_SPINCOUNT"] == nil && environment["OMP_WAIT_POLICY"] == nil {
            settings.append(("GOMP_SPINCOUNT", spinCount))
        }
        return settings
    }

    /// Sets what is missing and executes this binary again with the same arguments; returns
    /// when nothing is missing or the exec fails (the command then runs as it is).
    static func prepare() {
        let settings = missingSettings(
            arguments: CommandLine.arguments, environment: ProcessInfo.processInfo.environment,
            recommendedCore: { BLAS.recommendedCoreType })
        if modelCommands.contains(CommandLine.arguments.dropFirst().first ?? "") {
            AllocatorSettings.keepLargeAllocations()
        }
        guard !settings.isEmpty else { return }
        for (name, value) in settings {
            guard setenv(name, value, 0) == 0 else { return }
            if name == "OPENBLAS_CORETYPE" && isatty(2) == 1 {
                FileHandle.standardError.write(
                    Data(
                        "inpars: OpenBLAS chose its \(BLAS.coreName) kernels, narrower than this CPU runs; using OPENBLAS_CORETYPE=\(value) (set OPENBLAS_CORETYPE to choose yourself)\n"
                            .utf8))
            }
        }
        execv("/proc/self/exe", CommandLine.unsafeArgv)
    }
}
