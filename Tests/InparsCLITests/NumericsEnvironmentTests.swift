import InparsTensor
import Testing

@testable import inpars

/// Which libraries' settings a starting command adds before it executes itself again.
@Suite struct NumericsEnvironmentTests {
    @Test func openBLASCoreIsRaisedOnlyWhenTheCPURunsWiderKernels() {
        // Debian's 0.3.21 on an AVX-512 Xeon it does not know: Prescott (SSE3).
        #expect(BLAS.recommendedCoreType(current: "Prescott", cpuLevel: 3) == "SkylakeX")
        #expect(BLAS.recommendedCoreType(current: "Haswell", cpuLevel: 3) == "SkylakeX")
        #expect(BLAS.recommendedCoreType(current: "Nehalem", cpuLevel: 2) == "Haswell")
        #expect(BLAS.recommendedCoreType(current: "Core2", cpuLevel: 1) == "Sandybridge")
        // Already as wide as the CPU (or wider: a user's choice), or a CPU without AVX.
        #expect(BLAS.recommendedCoreType(current: "SkylakeX", cpuLevel: 3) == nil)
        #expect(BLAS.recommendedCoreType(current: "COOPERLAKE", cpuLevel: 3) == nil)
        #expect(BLAS.recommendedCoreType(current: "Zen", cpuLevel: 2) == nil)
        #expect(BLAS.recommendedCoreType(current: "SkylakeX", cpuLevel: 2) == nil)
        #expect(BLAS.recommendedCoreType(current: "Prescott", cpuLevel: 0) == nil)
    }

    @Test func modelCommandsGetTheMissingSettingsAndUsersKeepTheirs() {
        let wide = { "SkylakeX" as String? }
        func names(_ arguments: [String], _ environment: [String: String], _ core: () -> String? = { nil }) -> [String] {
            NumericsEnvironment.missingSettings(arguments: arguments, environment: environment, recommendedCore: core)
                .map { "\($0.name)=\($0.value)" }
        }
        #expect(names(["inpars", "rerank"], [:], wide) == ["OPENBLAS_CORETYPE=SkylakeX", "GOMP_SPINCOUNT=1000"])
        #expect(names(["inpars", "train"], ["OPENBLAS_CORETYPE": "Haswell"], wide) == ["GOMP_SPINCOUNT=1000"])
        #expect(names(["inpars", "generate"], ["OMP_WAIT_POLICY": "active"], wide) == ["OPENBLAS_CORETYPE=SkylakeX"])
        #expect(names(["inpars", "filter"], ["GOMP_SPINCOUNT": "0"]).isEmpty)
        // Commands that never load a model, and no command at all, start as they are.
        #expect(names(["inpars", "search"], [:], wide).isEmpty)
        #expect(names(["inpars", "evaluate"], [:], wide).isEmpty)
        #expect(names(["inpars"], [:], wide).isEmpty)
    }
}
