/// A learning-rate multiplier per optimizer step, as the Hugging Face schedules built on
/// `torch.optim.lr_scheduler.LambdaLR`.
///
/// `multiplier(afterSteps: n)` is the factor for the update that follows `n` completed
/// updates (LambdaLR's `last_epoch`), so the first update uses `multiplier(afterSteps: 0)`,
/// which is 0 when there is warmup — exactly as in PyTorch, where the scheduler is stepped
/// after each optimizer step.
public enum LearningRateSchedule: Sendable, Equatable {
    /// `get_constant_schedule_with_warmup`: `n / max(1, warmup)` during warmup, then 1
    /// (`warmupSteps == 0` is the plain constant schedule).
    case constant(warmupSteps: Int)
    /// `get_linear_schedule_with_warmup`: `n / max(1, warmup)` during warmup, then
    /// `max(0, (total − n) / max(1, total − warmup))`.
    case linear(warmupSteps: Int, totalSteps: Int)

    /// The factor applied to the base learning rate for the update after `steps` updates.
    public func multiplier(afterSteps steps: Int) -> Double {
        switch self {
        case .constant(let warmup):
            if steps < warmup { return Double(steps) / Double(max(1, warmup)) }
            return 1
        case .linear(let warmup, let total):
            if steps < warmup { return Double(steps) / Double(max(1, warmup)) }
            return max(0, Double(total - steps) / Double(max(1, total - warmup)))
        }
    }

    /// `base · multiplier(afterSteps: steps)`.
    public func learningRate(base: Double, afterSteps steps: Int) -> Double {
        base * multiplier(afterSteps: steps)
    }
}
