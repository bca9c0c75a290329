import Foundation
import InparsModels
import InparsTensor
import InparsTestSupport
import InparsTraining
import Testing

/// Exported optimizer state restores a run exactly (`--resume`), and bad state is refused.
@Suite struct OptimizerStateTests {
    static func run(
        _ make: () -> any Optimizer, resumeAfter split: Int?, fixture: OptimizerFixture
    ) throws -> [Tensor] {
        var optimizer = make()
        var parameters = fixture.tensors(fixture.initial)
        for step in 0..<4 {
            if step == split {
                let saved = optimizer.exportState()
                optimizer = make()
                try optimizer.importState(saved)
                #expect(optimizer.stepCount == step)
            }
            optimizer.step(
                parameters: &parameters, gradients: fixture.tensors(fixture.gradients[step]))
        }
        return parameters
    }

    @Test(arguments: ["adamw", "adafactor_relative", "adafactor_beta1_decay_scaled"])
    func resumedRunEqualsUninterruptedRun(_ name: String) throws {
        let fixture = try OptimizerFixture.load()
        let make = { OptimizerGoldenTests.optimizer(for: name, specs: fixture.specs).0 }
        let straight = try Self.run(make, resumeAfter: nil, fixture: fixture)
        let resumed = try Self.run(make, resumeAfter: 2, fixture: fixture)
        #expect(straight == resumed, "bit-for-bit equal")
        // And a fresh optimizer without the state does differ, so the state matters.
        var fresh = make()
        var parameters = fixture.tensors(fixture.initial)
        for step in 0..<2 {
            fresh.step(parameters: &parameters, gradients: fixture.tensors(fixture.gradients[step]))
        }
        fresh = make()
        for step in 2..<4 {
            fresh.step(parameters: &parameters, gradients: fixture.tensors(fixture.gradients[step]))
        }
        #expect(parameters != straight)
    }

    @Test func stateUsesPyTorchSlotNamesAndShapes() {
        let specs = [
            ParameterSpec(name: "w", shape: [2, 3, 5]), ParameterSpec(name: "b", shape: [7]),
        ]
        let factor = Adafactor(parameters: specs).exportState()
        #expect(factor.kind == "adafactor")
        #expect(
            Set(factor.tensors.keys) == ["w.exp_avg_sq_row", "w.exp_avg_sq_col", "b.exp_avg_sq"])
        #expect(factor.tensors["w.exp_avg_sq_row"]?.shape == [2, 3])
        #expect(factor.tensors["w.exp_avg_sq_col"]?.shape == [2, 5])
        let adam = AdamW(parameters: specs, learningRate: 1e-3).exportState()
        #expect(
            Set(adam.tensors.keys) == ["w.exp_avg", "w.exp_avg_sq", "b.exp_avg", "b.exp_avg_sq"])
    }

    @Test func mismatchedStateIsRefusedWithANamedError() {
        let specs = [ParameterSpec(name: "w", shape: [3, 4])]
        var adam = AdamW(parameters: specs, learningRate: 1e-3)
        let factorState = Adafactor(parameters: specs).exportState()
        #expect(throws: TrainingError.optimizerKindMismatch(expected: "adamw", found: "adafactor"))
        {
            try adam.importState(factorState)
        }
        var state = adam.exportState()
        state.tensors["w.exp_avg"] = Tensor(zeros: [4, 3])
        #expect(
            throws: TrainingError.optimizerTensorShape(
                name: "w.exp_avg", expected: [3, 4], found: [4, 3])
        ) {
            try adam.importState(state)
        }
        state.tensors["w.exp_avg"] = nil
        #expect(throws: TrainingError.missingOptimizerTensor(name: "w.exp_avg")) {
            try adam.importState(state)
        }
        #expect(
            TrainingError.missingOptimizerTensor(name: "w.exp_avg").errorDescription?.contains(
                "w.exp_avg") == true)
    }

    @Test func clippingScalesOnlyAboveTheMaximumNorm() {
        var gradients = [
            Tensor(shape: [2], storage: [3, 0]), Tensor(shape: [1, 1], storage: [4]),
        ]
        let norm = GradientClipping.clip(&gradients, maxNorm: 1)
        #expect(norm == 5)
        let coefficient: Float = 1 / (5 + 1e-6)
        #expect(
            gradients[0].storage == [3 * coefficient, 0]
                && gradients[1].storage == [4 * coefficient])
        var small = [Tensor(shape: [2], storage: [0.3, 0.4])]
        #expect(abs(GradientClipping.clip(&small, maxNorm: 1) - 0.5) < 1e-7)
        #expect(small[0].storage == [0.3, 0.4])
    }
}

/// Optimizer state survives a safetensors round trip (the `--resume` file).
@Suite struct OptimizerStateFileTests {
    @Test func stateRoundTripsThroughSafetensorsAndResumesIdentically() throws {
        let fixture = try OptimizerFixture.load()
        let directory = try TestPaths.temporaryDirectory("optimizer-state")
        defer { try? FileManager.default.removeItem(at: directory) }
        let url = directory.appendingPathComponent("optimizer.safetensors")
        var optimizer = Adafactor(parameters: fixture.specs, beta1: 0.9)
        var parameters = fixture.tensors(fixture.initial)
        for step in 0..<2 {
            optimizer.step(
                parameters: &parameters, gradients: fixture.tensors(fixture.gradients[step]))
        }
        let state = optimizer.exportState()
        try state.write(to: url)
        let read = try OptimizerState.read(from: url)
        #expect(read == state)
        var resumed = Adafactor(parameters: fixture.specs, beta1: 0.9)
        try resumed.importState(read)
        var a = parameters
        var b = parameters
        optimizer.step(parameters: &a, gradients: fixture.tensors(fixture.gradients[2]))
        resumed.step(parameters: &b, gradients: fixture.tensors(fixture.gradients[2]))
        #expect(a == b)
    }

    @Test func aSafetensorsFileWithoutOptimizerMetadataIsRefused() throws {
        let directory = try TestPaths.temporaryDirectory("optimizer-state")
        defer { try? FileManager.default.removeItem(at: directory) }
        let url = directory.appendingPathComponent("model.safetensors")
        try SafetensorsWriter.write(["w": Tensor(zeros: [2])], to: url)
        #expect(
            throws: TrainingError.invalidOptimizerFile(
                path: url.path, reason: "no 'inpars.optimizer' metadata")
        ) {
            try OptimizerState.read(from: url)
        }
    }
}
