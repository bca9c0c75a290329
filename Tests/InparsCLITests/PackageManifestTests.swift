import Foundation
import InparsTestSupport
import Testing

/// Package.swift, the sources' imports and Docs/architecture.md's module diagram must agree.
@Suite struct PackageManifestTests {
    struct Target {
        var kind: String
        var name: String
        var dependencies: Set<String>
        /// The sources folder, relative to the repository root.
        var path: String
    }

    /// The targets of Package.swift, read from its text: each `.target(`, `.testTarget(`,
    /// `.executableTarget(` and `.systemLibrary(` call's `name:`, `dependencies:` and `path:`.
    /// The `argumentParser` and `yams` constants stand for the ArgumentParser and Yams products.
    static func manifestTargets() throws -> [Target] {
        let text = try String(
            contentsOf: TestPaths.repositoryRoot.appendingPathComponent("Package.swift"),
            encoding: .utf8)
        let call = try Regex(#"\.(target|testTarget|executableTarget|systemLibrary)\("#)
        var targets: [Target] = []
        for match in text.matches(of: call) {
            // The call's arguments: up to the matching parenthesis.
            var depth = 1
            var end = match.range.upperBound
            while depth > 0 {
                if text[end] == "(" { depth += 1 }
                if text[end] == ")" { depth -= 1 }
                end = text.index(after: end)
            }
            let body = String(text[match.range.upperBound..<end])
            let kind = String(text[match.range]).dropFirst().dropLast()
            let name = try #require(body.firstMatch(of: #/name:\s*"([^"]+)"/#)?.output.1)
            var dependencies = Set<String>()
            if let list = body.firstMatch(of: #/dependencies:\s*\[([^\]]*)\]/#)?.output.1 {
                for item in list.split(separator: ",") {
                    let token = item.trimmingCharacters(in: .whitespacesAndNewlines)
                    if token.isEmpty { continue }
                    let products = ["argumentParser": "ArgumentParser", "yams": "Yams"]
                    dependencies.insert(products[token] ?? token.replacing("\"", with: ""))
                }
            }
            let folder = kind == "testTarget" ? "Tests" : "Sources"
            let path = body.firstMatch(of: #/path:\s*"([^"]+)"/#).map { String($0.output.1) }
            targets.append(
                Target(
                    kind: String(kind), name: String(name), dependencies: dependencies,
                    path: path ?? "\(folder)/\(name)"))
        }
        return targets
    }

    /// The modules a target's Swift files import that are targets or products of this package.
    static func imports(of target: Target, modules: Set<String>) throws -> Set<String> {
        let root = TestPaths.repositoryRoot.appendingPathComponent(target.path)
        let files = try #require(FileManager.default.enumerator(atPath: root.path))
        let statement =
            #/^\s*(?:@testable\s+)?(?:(?:internal|public|package|private|fileprivate)\s+)?import\s+(\w+)/#
        var found = Set<String>()
        for case let file as String in files where file.hasSuffix(".swift") {
            let text = try String(
                contentsOf: root.appendingPathComponent(file), encoding: .utf8)
            for line in text.split(separator: "\n") {
                if let module = line.firstMatch(of: statement)?.output.1,
                    modules.contains(String(module))
                {
                    found.insert(String(module))
                }
            }
        }
        return found
    }

    @Test func everyTargetDependsOnExactlyWhatItsSourcesImport() throws {
        let targets = try Self.manifestTargets()
        #expect(targets.count > 20, "Package.swift was not parsed: \(targets.map(\.name))")
        let modules = Set(targets.map(\.name)).union(["ArgumentParser", "Yams"])
        for target in targets where target.kind != "systemLibrary" {
            let imported = try Self.imports(of: target, modules: modules)
            #expect(
                imported == target.dependencies,
                """
                \(target.name): imported but not listed \(imported.subtracting(target.dependencies).sorted()), \
                listed but not imported \(target.dependencies.subtracting(imported).sorted())
                """)
        }
    }

    /// The diagram's `Module -> Dep, Dep` lines (between the markers in Docs/architecture.md).
    static func diagram() throws -> [String: Set<String>] {
        let text = try String(
            contentsOf: TestPaths.repositoryRoot.appendingPathComponent("Docs/architecture.md"),
            encoding: .utf8)
        let start = try #require(text.range(of: "<!-- module diagram -->"))
        let end = try #require(text.range(of: "<!-- end module diagram -->"))
        let block = text[start.upperBound..<end.lowerBound]
        // `Name -> A, B,` may continue on the next line after a trailing comma; `-> (nothing)`
        // is a module without dependencies.
        let line = #/(?m)^(\w[\w-]*)\s+->\s+(\(nothing\)|(?:[\w-]+\s*,\s*)*[\w-]+)/#
        var edges: [String: Set<String>] = [:]
        for match in block.matches(of: line) {
            let list = match.output.2 == "(nothing)" ? "" : match.output.2
            edges[String(match.output.1)] = Set(
                list.split(separator: ",").map {
                    $0.trimmingCharacters(in: .whitespacesAndNewlines)
                })
        }
        return edges
    }

    @Test func theArchitectureDiagramMatchesPackageSwift() throws {
        let targets = try Self.manifestTargets()
        let diagram = try Self.diagram()
        var expected: [String: Set<String>] = [:]
        for target in targets where target.kind == "target" || target.kind == "executableTarget" {
            expected[target.name] = target.dependencies
        }
        #expect(Set(diagram.keys) == Set(expected.keys))
        for (module, dependencies) in expected.sorted(by: { $0.key < $1.key }) {
            #expect(
                diagram[module] == dependencies,
                "Docs/architecture.md: \(module) -> \(diagram[module]?.sorted() ?? []), Package.swift: \(dependencies.sorted())"
            )
        }
    }
}
