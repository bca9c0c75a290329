import Foundation
import InparsTestSupport
import Testing

/// The documented set-up works as root without sudo and as a user with sudo, and CI runs the
/// README's own commands (issue 16, finding 8).
@Suite struct SetupScriptTests {
    static let root = TestPaths.repositoryRoot
    static let packages = [
        "libopenblas-dev", "libcurl4-openssl-dev", "zlib1g-dev", "libssl-dev", "pkg-config",
        "libdnnl-dev",
    ]

    /// The indented command lines of a README section (up to the next heading).
    static func commands(inSection title: String) throws -> [String] {
        let readme = try String(
            contentsOf: root.appendingPathComponent("README.md"), encoding: .utf8)
        let section = try #require(readme.components(separatedBy: "## \(title)\n").dropFirst().first)
        return section.components(separatedBy: "\n## ").first!.split(separator: "\n")
            .filter { $0.hasPrefix("    ") }.map { $0.trimmingCharacters(in: .whitespaces) }
    }

    @Test func theReadmeSetUpCallsTheScriptAndCIRunsTheReadmeCommands() throws {
        let commands = try Self.commands(inSection: "Set up")
        #expect(commands.count == 2, "\(commands)")
        #expect(commands.first == "Scripts/setup.sh && swift build -c release --product inpars")
        #expect(commands.allSatisfy { !$0.hasPrefix("sudo") }, "\(commands)")
        let ci = try String(contentsOf: Self.root.appendingPathComponent(".ci/run"), encoding: .utf8)
        let ciLines = Set(ci.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) })
        for command in commands {
            #expect(ciLines.contains(command), "'.ci/run' does not run the README's '\(command)'")
        }
    }

    /// Runs Scripts/setup.sh with stand-ins for `id`, `dpkg-query`, `apt-get` and (optionally)
    /// `sudo` that record how they were called; nothing is installed.
    func runSetup(uid: Int, sudo: Bool, installed: [String]) throws -> (
        status: Int32, calls: [String], stderr: String
    ) {
        let folder = try TestPaths.temporaryDirectory("setup-script")
        defer { try? FileManager.default.removeItem(at: folder) }
        let bin = folder.appendingPathComponent("bin")
        try FileManager.default.createDirectory(at: bin, withIntermediateDirectories: true)
        let log = folder.appendingPathComponent("calls.log").path
        var stubs = [
            "id": "[ \"$1\" = -u ] && echo \(uid)",
            "dpkg-query": """
                case " \(installed.joined(separator: " ")) " in *" ${@: -1} "*) printf 'install ok installed';; *) exit 1;; esac
                """,
            "apt-get": "echo \"apt-get $*\" >> \(log)",
        ]
        if sudo { stubs["sudo"] = "echo \"sudo $*\" >> \(log)" }
        for (name, body) in stubs {
            let url = bin.appendingPathComponent(name)
            try Data("#!/bin/bash\n\(body)\n".utf8).write(to: url)
            try FileManager.default.setAttributes(
                [.posixPermissions: 0o755], ofItemAtPath: url.path)
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/bash")
        process.arguments = [Self.root.appendingPathComponent("Scripts/setup.sh").path]
        process.environment = ["PATH": bin.path]
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = Pipe()
        try process.run()
        let stderr = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        let calls = (try? String(contentsOfFile: log, encoding: .utf8))?.split(separator: "\n")
            .map(String.init) ?? []
        return (process.terminationStatus, calls, stderr)
    }

    @Test func asRootWithoutSudoItInstallsWhatIsMissing() throws {
        let result = try runSetup(uid: 0, sudo: false, installed: ["pkg-config"])
        #expect(result.status == 0, "\(result.stderr)")
        let missing = Self.packages.filter { $0 != "pkg-config" }.joined(separator: " ")
        #expect(
            result.calls == [
                "apt-get update",
                "apt-get install -y --no-install-recommends \(missing)",
            ], "\(result.calls)")
    }

    @Test func asAUserItGoesThroughSudo() throws {
        let result = try runSetup(uid: 1000, sudo: true, installed: [])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(
            result.calls == [
                "sudo apt-get update",
                "sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \(Self.packages.joined(separator: " "))",
            ], "\(result.calls)")
    }

    @Test func asAUserWithoutSudoItSaysWhatToInstall() throws {
        let result = try runSetup(uid: 1000, sudo: false, installed: [])
        #expect(result.status == 1)
        #expect(result.calls.isEmpty)
        #expect(result.stderr.contains(Self.packages.joined(separator: " ")), "\(result.stderr)")
    }

    @Test func withEverythingInstalledItDoesNothing() throws {
        let result = try runSetup(uid: 1000, sudo: false, installed: Self.packages)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.calls.isEmpty)
    }
}
