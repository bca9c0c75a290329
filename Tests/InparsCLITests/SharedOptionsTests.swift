import ArgumentParser
import Foundation
import InparsTensor
import InparsTestSupport
import Testing

@testable import inpars

/// Every command's `--help` shows a shared flag with the same default (Docs/cli.md lists them).
@Suite struct SharedOptionsTests {
    /// `--flag` → default shown in one command's help (`nil` when none is shown), read from
    /// the OPTIONS section of `inpars help <command>`: an entry starts with `  -` and goes on
    /// over the more-indented lines below it.
    static func defaults(of command: ParsableCommand.Type) -> [String: String?] {
        let help = Inpars.helpMessage(for: command, columns: 100)
        guard let options = help.range(of: "OPTIONS:\n") else { return [:] }
        var entries: [String] = []
        for line in help[options.upperBound...].split(separator: "\n") {
            if line.hasPrefix("  -") {
                entries.append(String(line))
            } else if line.hasPrefix("   "), !entries.isEmpty {
                entries[entries.count - 1] += " " + line.trimmingCharacters(in: .whitespaces)
            } else {
                break
            }
        }
        let flag = #/^  (?:-\w, )?(--[\w-]+)/#
        let shown = #/\(default: ([^)]*)\)/#
        var table: [String: String?] = [:]
        for entry in entries {
            guard let name = entry.firstMatch(of: flag)?.output.1 else { continue }
            // updateValue keeps a flag without a default (a `nil` assignment would drop it).
            table.updateValue(
                entry.firstMatch(of: shown).map { String($0.output.1) }, forKey: String(name))
        }
        return table
    }

    static let commands: [ParsableCommand.Type] = Inpars.configuration.subcommands

    /// The shared flags, the commands that must have them, and the default Docs/cli.md gives.
    static let shared: [(flag: String, commands: [String], shown: String?)] = [
        (
            "--threads", ["generate", "filter", "index", "search", "triples", "train", "rerank"],
            "all cores"
        ),
        ("--seed", ["generate", "triples", "train"], "1"),
        ("--batch-size", ["filter", "train", "rerank"], "8"),
        ("--batch-size", ["generate"], "8 for T5, 64 for decoder-only LMs"),
        ("--max-length", ["filter", "train", "rerank"], "512"),
        (
            "--labels", ["filter", "train", "rerank"],
            "yes-no for mt5 folders and names containing 'flan'"
        ),
        ("--skip-bad-lines", ["filter", "index", "search", "triples", "train"], nil),
        ("--corpus", ["generate", "index", "triples", "rerank"], nil),
        ("--model", ["generate", "filter", "train", "rerank"], nil),
        (
            "--revision", ["generate", "filter", "train", "rerank", "download"],
            "main, or the @revision in org/name@revision"
        ),
        ("--overwrite", Self.resumable, nil),
        ("--shard", Self.resumable, nil),
    ]

    /// The commands that resume and shard (Docs/scaling.md).
    static let resumable = ["generate", "filter", "search", "triples", "rerank"]

    @Test func sharedFlagsAppearWhereTheyShouldWithTheDocumentedDefault() throws {
        #expect(Self.commands.count == 11)
        let tables = Dictionary(
            uniqueKeysWithValues: Self.commands.map {
                ($0.configuration.commandName!, Self.defaults(of: $0))
            })
        for (flag, names, shown) in Self.shared {
            for name in names {
                let table = try #require(tables[name])
                #expect(table.keys.contains(flag), "inpars \(name) has no \(flag)")
                #expect(
                    table[flag] == .some(shown),
                    "inpars \(name) \(flag): \(String(describing: table[flag]))")
            }
        }
    }

    /// Any flag that two commands show a default for shows the same one. (A flag some commands
    /// require shows none there: `search` writes to standard output without `--output`, the
    /// others need it.) `--tag` names the system that made a run (`inpars-bm25` for search, the
    /// model's name for rerank), so its default differs on purpose; so does `generate
    /// --batch-size`, whose default is the model family's (a decoder-only LM's decoding step
    /// reads every weight once for all its rows, Docs/performance.md "Session 7").
    @Test func aFlagHasOneDefaultAcrossCommands() throws {
        var seen: [String: [(command: String, shown: String)]] = [:]
        for command in Self.commands {
            for case let (flag, shown?) in Self.defaults(of: command) {
                seen[flag, default: []].append((command.configuration.commandName!, shown))
            }
        }
        #expect(seen["--threads"]?.count == 7, "the help was not parsed: \(seen.keys.sorted())")
        for (flag, uses) in seen.sorted(by: { $0.key < $1.key }) where flag != "--tag" && flag != "--batch-size" {
            #expect(
                Set(uses.map(\.shown)).count == 1,
                "\(flag): \(uses.map { "\($0.command) \($0.shown)" }.joined(separator: ", "))")
        }
    }

    /// The bf16 note: only for bf16, only without native bf16, and it names the fast format.
    @Test func precisionNoteOnlyForEmulatedBFloat16() throws {
        let note = try #require(PrecisionOptions.note(.bf16, nativeBF16: false, isa: "avx512_core_vnni"))
        #expect(note.contains("avx512_core_vnni") && note.contains("emulated") && note.contains("--precision int8"))
        #expect(PrecisionOptions.note(.bf16, nativeBF16: true, isa: "avx512_core_bf16") == nil)
        for precision in [Precision.fp32, .int8] {
            #expect(PrecisionOptions.note(precision, nativeBF16: false, isa: "avx2") == nil)
        }
    }
}
