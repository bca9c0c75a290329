import Foundation
import InparsCore
import InparsTestSupport
import Testing

@testable import inpars

@Suite struct RootCommandTests {
    @Test func versionFlagPrintsTheReleaseVersion() throws {
        let result = try BuiltProducts.run(["--version"])
        #expect(result.status == 0)
        #expect(result.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == InparsVersion.string)
        #expect(InparsVersion.string.split(separator: ".").count == 3)
    }

    @Test func helpListsTheToolAndGoesToStdout() throws {
        let result = try BuiltProducts.run(["--help"])
        #expect(result.status == 0)
        #expect(result.stdout.contains("USAGE: inpars"))
        #expect(result.stdout.contains("Train neural rerankers without human labels"))
    }

    @Test func anUnknownOptionIsAUsageErrorOnStderr() throws {
        let result = try BuiltProducts.run(["--no-such-flag"])
        #expect(result.status == 64)
        #expect(result.stdout.isEmpty)
        #expect(result.stderr.contains("Unknown option '--no-such-flag'"))
    }

    @Test func rootParsesWithoutASubcommand() throws {
        #expect(throws: Never.self) { _ = try Inpars.parseAsRoot([]) }
    }
}
