import Foundation

/// The name a model folder goes by in labels, manifests and label-piece detection.
public enum ModelFolderName {
    /// `org/name` for a snapshot in the Hugging Face cache
    /// (`…/models--org--name/snapshots/<commit>`), else the folder's own name.
    public static func of(_ directory: URL) -> String {
        let folder = directory.standardizedFileURL
        let parent = folder.deletingLastPathComponent()
        let repoFolder = parent.deletingLastPathComponent().lastPathComponent
        if parent.lastPathComponent == "snapshots", repoFolder.hasPrefix("models--") {
            return repoFolder.dropFirst("models--".count).replacingOccurrences(of: "--", with: "/")
        }
        return folder.lastPathComponent
    }
}
