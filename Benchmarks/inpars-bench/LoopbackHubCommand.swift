import ArgumentParser
import Foundation
import InparsTestSupport

/// Serves a model folder as a loopback Hugging Face Hub (with a loopback CDN) for hand
/// checks against other clients, e.g. Python's huggingface_hub
/// (`Scripts/hub/check-python-cache.sh`).
struct LoopbackHubCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "loopback-hub",
        abstract: "Serve a model folder as a loopback Hugging Face Hub; print HF_ENDPOINT.",
        discussion: """
            Answers HEAD/GET {endpoint}/{repo}/resolve/{revision}/{file} as the Hub does \
            (X-Repo-Commit, ETag; LFS files redirected to a second loopback server with \
            X-Linked-Etag and X-Linked-Size; 404 EntryNotFound for absent files). Prints the \
            endpoint on stdout, then serves until --seconds have passed.
            """)

    @Option(help: "Repository id to serve.") var repo = "loopback-org/tiny-t5"
    @Option(help: "Folder whose files form the repository.") var folder: String
    @Option(help: "Seconds to serve.") var seconds: Double = 300

    func run() throws {
        let hub = try LoopbackHub(
            repo: repo, folder: URL(fileURLWithPath: folder), lifetime: seconds + 5)
        FileHandle.standardOutput.write(Data((hub.endpoint + "\n").utf8))
        Thread.sleep(forTimeInterval: seconds)
        FileHandle.standardError.write(
            Data(
                "served \(hub.hub.requests.count) Hub and \(hub.cdn.requests.count) CDN requests\n"
                    .utf8))
    }
}
