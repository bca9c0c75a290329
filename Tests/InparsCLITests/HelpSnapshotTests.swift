import ArgumentParser
import Foundation
import InparsTestSupport
import Testing

@testable import inpars

/// Every command's `--help`, compared with a committed snapshot so that a change to a flag, a
/// default or a help text is deliberate (issue 16, item 9).
///
/// After an intended change, regenerate the snapshot with
/// `INPARS_UPDATE_HELP_SNAPSHOT=1 swift test --filter HelpSnapshotTests` and review the diff.
@Suite struct HelpSnapshotTests {
    static let snapshot = TestPaths.fixtures.appendingPathComponent("help-snapshot.txt")

    /// `inpars --help` and each command's help at 80 columns, one after the other.
    static func currentHelp() -> String {
        var text = "==> inpars --help\n" + Inpars.helpMessage(columns: 80) + "\n"
        for command in Inpars.configuration.subcommands {
            let name = command.configuration.commandName ?? "\(command)"
            text += "\n==> inpars help \(name)\n" + Inpars.helpMessage(for: command, columns: 80)
                + "\n"
        }
        return text
    }

    @Test func everyCommandsHelpMatchesTheSnapshot() throws {
        let current = Self.currentHelp()
        if ProcessInfo.processInfo.environment["INPARS_UPDATE_HELP_SNAPSHOT"] == "1" {
            try Data(current.utf8).write(to: Self.snapshot)
        }
        let committed = try String(contentsOf: Self.snapshot, encoding: .utf8)
        guard current != committed else { return }
        // Name the first differing line, so the failure says what changed.
        let now = current.split(separator: "\n", omittingEmptySubsequences: false)
        let then = committed.split(separator: "\n", omittingEmptySubsequences: false)
        let line =
            zip(now, then).enumerated().first { $0.element.0 != $0.element.1 }?.offset
            ?? min(now.count, then.count)
        Issue.record(
            """
            --help differs from Tests/Fixtures/help-snapshot.txt at line \(line + 1):
              snapshot: \(line < then.count ? String(then[line]) : "(end)")
              now:      \(line < now.count ? String(now[line]) : "(end)")
            If the change is intended, regenerate the snapshot (see this suite's comment).
            """)
    }

    /// The help texts carry no hard line breaks inside a sentence: each line of a discussion
    /// is filled to the width, so no line of the 80-column help stops short while the next
    /// one continues the same paragraph with a word that would have fitted.
    @Test func discussionsWrapEvenly() {
        for command in Inpars.configuration.subcommands {
            let help = Inpars.helpMessage(for: command, columns: 80)
            let lines = help.split(separator: "\n", omittingEmptySubsequences: false)
            for (index, line) in lines.enumerated().dropLast() {
                let next = lines[index + 1]
                guard !line.isEmpty, !next.isEmpty, !line.hasPrefix("  "), !next.hasPrefix("  "),
                    !line.hasSuffix(":"), let word = next.split(separator: " ").first
                else { continue }
                // ArgumentParser fills lines to a little under the width.
                #expect(
                    line.count + 1 + word.count >= 78,
                    "'\(command.configuration.commandName ?? "")': '\(line)' breaks before '\(word)'")
            }
        }
    }
}
