import Foundation

/// The shard outputs of one run, checked to make exactly one whole: what `inpars merge` reads.
///
/// Each shard output has a complete manifest naming its shard (`i/N`) and its run
/// (``OutputManifest/runID``, a fingerprint of the unsharded command's settings and inputs).
/// ``open(_:)`` refuses a file without such a manifest, an unfinished shard, a shard changed
/// since it was written, a shard of another run (naming the differences), a shard given twice
/// and a missing shard. ``write(to:roles:summary:transform:)`` then writes the merged output(s) and
/// the manifest the unsharded command would have written, so the merged file is, to inpars, the
/// unsharded command's output (a rerun of that command finds it complete).
public struct ShardSet: Sendable {
    /// A shard output and its manifest.
    public struct Member: Sendable {
        public var url: URL
        public var manifest: OutputManifest
        public var shard: Shard { manifest.shardValue }
    }

    /// The shards in index order.
    public let members: [Member]

    /// For people: the shards ran with different `rounding` flags (threads, batch size), so
    /// the merged scores may differ in their last bits from one unsharded run's.
    public var notes: [String] {
        let values = Set(members.map { $0.manifest.rounding ?? [:] })
        guard values.count > 1 else { return [] }
        return [
            "the shards ran with different "
                + Set(values.flatMap(\.keys)).sorted().map { "--" + $0.replacingOccurrences(of: "_", with: "-") }
                .joined(separator: "/")
                + " (\(members.map { "\($0.shard): \(($0.manifest.rounding ?? [:]).sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))" }.joined(separator: "; ")));"
                + " the merge is whole, but its scores may differ in the last float bits from an"
                + " unsharded run's"
        ]
    }

    /// The command that wrote them.
    public var command: String { members[0].manifest.command ?? "generate" }

    /// The settings of the run (the same in every shard).
    public var settings: [String: String] { members[0].manifest.settings }

    /// Reads and checks the shards' manifests.
    ///
    /// - Throws: ``InparsCoreError/badShards(reason:)`` naming the file and the problem.
    public static func open(_ urls: [URL]) throws -> ShardSet {
        guard !urls.isEmpty else { throw InparsCoreError.badShards(reason: "no shard files given") }
        var members: [Member] = []
        for url in urls {
            let manifestURL = OutputManifest.url(for: url)
            guard let manifest = try OutputManifest.read(manifestURL) else {
                guard FileManager.default.fileExists(atPath: url.path) else {
                    throw InparsCoreError.badShards(reason: "'\(url.path)' does not exist")
                }
                throw InparsCoreError.badShards(
                    reason: "'\(url.path)' has no manifest '\(manifestURL.lastPathComponent)'"
                        + " beside it, so it is not the output of an inpars command run with --shard")
            }
            guard manifest.shard != nil else {
                throw InparsCoreError.badShards(
                    reason: "'\(url.path)' was made without --shard (it is a whole output already)")
            }
            guard manifest.state == .complete else {
                let done = manifest.progress.map { " after \($0.items) items" } ?? ""
                throw InparsCoreError.badShards(
                    reason: "shard \(manifest.shardValue) '\(url.path)' is not finished (it"
                        + " stopped\(done)); rerun its command to complete it")
            }
            members.append(Member(url: url, manifest: manifest))
        }
        try checkOneRun(members)
        let ordered = try checkCoverage(members)
        for member in ordered { try checkUnchanged(member) }
        return ShardSet(members: ordered)
    }

    /// Every shard belongs to the first one's run.
    private static func checkOneRun(_ members: [Member]) throws {
        let first = members[0]
        for member in members.dropFirst() {
            var a = first.manifest
            var b = member.manifest
            if a.shard?.run == b.shard?.run && a.shard?.count == b.shard?.count
                && a.shard?.items == b.shard?.items
            {
                continue
            }
            // Name what differs, shard index aside.
            a.shard?.index = 0
            b.shard?.index = 0
            var differences = a.differences(from: b)
            if a.shard?.count != b.shard?.count {
                differences.append("shard count: \(a.shard!.count) → \(b.shard!.count)")
            }
            throw InparsCoreError.badShards(
                reason: "'\(member.url.path)' belongs to another run than '\(first.url.path)' ("
                    + (differences.isEmpty ? "run \(a.shard!.run) → \(b.shard!.run)"
                        : differences.joined(separator: "; ")) + ")")
        }
    }

    /// Each index `0..<N` exactly once; returns the members in index order.
    private static func checkCoverage(_ members: [Member]) throws -> [Member] {
        let count = members[0].shard.count
        var slots = [Member?](repeating: nil, count: count)
        for member in members {
            let index = member.shard.index
            if let earlier = slots[index] {
                throw InparsCoreError.badShards(
                    reason: "shard \(member.shard) is given twice: '\(earlier.url.path)' and"
                        + " '\(member.url.path)'")
            }
            slots[index] = member
        }
        let missing = slots.indices.filter { slots[$0] == nil }
        if !missing.isEmpty {
            throw InparsCoreError.badShards(
                reason: "shard\(missing.count == 1 ? "" : "s") "
                    + missing.map { "\($0)/\(count)" }.joined(separator: ", ")
                    + " of this run \(missing.count == 1 ? "is" : "are") missing (given: "
                    + members.map { $0.shard.description }.sorted().joined(separator: ", ") + ")")
        }
        return slots.map { $0! }
    }

    private static func checkUnchanged(_ member: Member) throws {
        for role in (member.manifest.outputs ?? [:]).keys.sorted() {
            let url = try member.file(role)
            let recorded = member.manifest.outputs![role]!
            let now = try InputIdentity.of(url)
            guard recorded.sameContent(as: now) else {
                throw InparsCoreError.badShards(
                    reason: "'\(url.path)' (shard \(member.shard)) changed after inpars wrote it"
                        + " (\(recorded.summary) → \(now.summary))")
            }
        }
    }

    /// The shards' summaries added up.
    public func summary<Summary: StageSummary>(_ type: Summary.Type) throws -> Summary {
        var total = Summary()
        for member in members {
            if let part = try OutputManifest.readSummary(
                OutputManifest.url(for: member.url), as: Summary.self)
            {
                total.add(part)
            }
        }
        return total
    }

    /// Writes the merged outputs, then their manifest: the unsharded run's.
    ///
    /// - Parameters:
    ///   - roles: where each output role goes (`main` and e.g. `ids`); every role the shards
    ///     recorded must be given.
    ///   - transform: roles whose merged output is made from the shard files rather than their
    ///     concatenation (filter's global top-k), called with the shard files in order.
    public func write<Summary: StageSummary>(
        to roles: [String: URL], kinds: [String: OutputKind], summary: Summary,
        transform: [String: ([URL], OutputFile) throws -> Void] = [:]
    ) throws {
        let recorded = Set((members[0].manifest.outputs ?? [:]).keys)
        for role in recorded.sorted() where roles[role] == nil {
            throw InparsCoreError.badShards(
                reason: "the shards have a '\(role)' output too; name its merged file"
                    + (role == "ids" ? " with --ids-output" : ""))
        }
        var identities: [String: InputIdentity] = [:]
        for (role, url) in roles.sorted(by: { $0.key < $1.key }) {
            guard recorded.contains(role) else {
                throw InparsCoreError.badShards(reason: "the shards have no '\(role)' output")
            }
            let files = try members.map { try $0.file(role) }
            for file in files where OutputManifest.sameFile(file, url) {
                throw InparsCoreError.badShards(
                    reason: "the merged output '\(url.path)' is one of the shards")
            }
            let kind = kinds[role] ?? .fresh("a merged output")
            if let transform = transform[role] {
                try AtomicFile.write(to: url, replacing: kind) { try transform(files, $0) }
            } else {
                try AtomicFile.write(to: url, replacing: kind) { output in
                    for file in files { try FileCopy.append(file, to: output) }
                }
            }
            identities[role] = try InputIdentity.of(url)
        }
        var manifest = members[0].manifest
        manifest.shard = nil
        if !notes.isEmpty {
            var mixed: [String: String] = [:]
            for key in Set(members.flatMap { ($0.manifest.rounding ?? [:]).keys }) {
                mixed[key] = "mixed"
            }
            manifest.rounding = mixed
        }
        manifest.state = .complete
        manifest.progress = nil
        manifest.outputs = identities
        manifest.info["inpars_version"] = InparsVersion.string
        manifest.info["merged_from"] = members.map(\.url.path).joined(separator: " ")
        try manifest.write(to: OutputManifest.url(for: roles["main"]!), summary: summary)
    }
}

extension ShardSet.Member {
    /// The file of output `role`: where the manifest recorded it, else the file of that name
    /// beside the main output (shards moved together).
    func file(_ role: String) throws -> URL {
        if role == "main" { return url }
        guard let recorded = manifest.outputs?[role] else {
            throw InparsCoreError.badShards(reason: "'\(url.path)' has no '\(role)' output")
        }
        let path = URL(fileURLWithPath: recorded.path)
        if FileManager.default.fileExists(atPath: path.path) { return path }
        let beside = url.deletingLastPathComponent().appendingPathComponent(path.lastPathComponent)
        guard FileManager.default.fileExists(atPath: beside.path) else {
            throw InparsCoreError.badShards(
                reason: "the '\(role)' output of '\(url.path)' ('\(recorded.path)') is gone")
        }
        return beside
    }
}

extension OutputManifest {
    /// Whether two paths name the same existing file.
    static func sameFile(_ a: URL, _ b: URL) -> Bool {
        var first = stat()
        var second = stat()
        guard stat(a.path, &first) == 0, stat(b.path, &second) == 0 else { return false }
        return first.st_dev == second.st_dev && first.st_ino == second.st_ino
    }
}
