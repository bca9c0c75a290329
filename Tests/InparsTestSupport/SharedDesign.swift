import Foundation

extension TestPaths {
    /// `shared/design/<name>` found beside the repository or any folder above it (worktrees
    /// live deeper than the main checkout), or `nil` when absent.
    public static func sharedDesign(_ name: String) -> URL? {
        var folder = repositoryRoot
        while folder.path != "/" {
            folder = folder.deletingLastPathComponent()
            let candidate = folder.appendingPathComponent("shared/design/\(name)")
            if FileManager.default.fileExists(atPath: candidate.path) { return candidate }
        }
        return nil
    }
}
