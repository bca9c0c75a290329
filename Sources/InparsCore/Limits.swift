/// Upper bounds for the counts a user gives on the command line.
///
/// Past these a value can only be a mistake, and some (threads, batch sizes, token budgets)
/// size an allocation or a thread pool, so a typo like `--threads 1000000` would exhaust the
/// machine or overflow arithmetic before doing anything useful. Commands reject values outside
/// the bounds with a usage error; the libraries clamp thread counts and throw on the rest.
public enum Limits {
    /// Threads (`--threads`).
    public static let threads = 1024
    /// Items handled together (`--batch-size`, `--eval-batch-size`, `--grad-accum`,
    /// `--concurrency`).
    public static let batch = 65_536
    /// Token counts (`--max-length`, `--max-new-tokens`, `--max-doc-tokens`, ...).
    public static let tokens = 1 << 20
    /// `--num-queries-per-doc`.
    public static let queriesPerDocument = 10_000
    /// Optimizer steps (`--steps`, `--warmup-steps`).
    public static let steps = 1 << 30
    /// The smallest `--max-length` a monoT5 input fits in: `Query: … Document: … Relevant:`
    /// plus EOS with room for a few query and document tokens.
    public static let minimumMonoT5Length = 16
}
