import Foundation
import InparsTestSupport
import Testing

/// The documents point at things that exist: relative Markdown links, and the repository
/// paths they name in backticks (`Sources/…`, `Tests/…`, `Scripts/…`, `Docs/…`).
@Suite struct DocsLinkTests {
    static let root = TestPaths.repositoryRoot

    static func documents() throws -> [URL] {
        let docs = root.appendingPathComponent("Docs")
        let names = try FileManager.default.contentsOfDirectory(atPath: docs.path)
            .filter { $0.hasSuffix(".md") }.sorted()
        return [root.appendingPathComponent("README.md"), root.appendingPathComponent("Examples/README.md")]
            + names.map { docs.appendingPathComponent($0) }
    }

    @Test func relativeLinksResolve() throws {
        let link = #/\]\(([^)#\s]+)(#[^)]*)?\)/#
        for document in try Self.documents() {
            let text = try String(contentsOf: document, encoding: .utf8)
            for match in text.matches(of: link) {
                let target = String(match.output.1)
                if target.contains("://") || target.hasPrefix("mailto:") { continue }
                let resolved = document.deletingLastPathComponent().appendingPathComponent(target)
                #expect(
                    FileManager.default.fileExists(atPath: resolved.path),
                    "\(document.lastPathComponent): link to \(target) does not resolve")
            }
        }
    }

    @Test func namedRepositoryPathsExist() throws {
        let path = #/`((?:Sources|Tests|Scripts|Docs|Benchmarks|Examples)/[A-Za-z0-9_+./-]+\.(?:swift|md|py|sh|c|h|yaml|json))`/#
        for document in try Self.documents() {
            let text = try String(contentsOf: document, encoding: .utf8)
            for match in text.matches(of: path) {
                let named = String(match.output.1)
                #expect(
                    FileManager.default.fileExists(atPath: Self.root.appendingPathComponent(named).path),
                    "\(document.lastPathComponent) names \(named), which does not exist")
            }
        }
    }
}
