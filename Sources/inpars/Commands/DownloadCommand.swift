import ArgumentParser
import Foundation
import InparsCore
import InparsHub

/// `inpars download`: fetch Hub models and BEIR data sets ahead of time.
struct DownloadCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "download",
        abstract: "Fetch Hub models and BEIR data sets now and print their local folders.",
        discussion: """
            Models (org/name[@revision]) go to the Hugging Face cache (HF_HUB_CACHE, HF_HOME/hub \
            or ~/.cache/huggingface/hub) exactly as huggingface_hub lays it out; the Hub is asked \
            which commit the revision points to now. Data sets (beir/<name>[/<split>]) are \
            unpacked under INPARS_CACHE (default ~/.cache/inpars). One local folder per name \
            is printed on stdout, for machines that later run with HF_HUB_OFFLINE=1. See \
            Docs/models-and-data.md.
            """)

    @Argument(help: "Hub model ids (org/name[@revision]) or data sets (beir/<name>[/<split>]).")
    var names: [String]

    @OptionGroup var revision: RevisionOptions

    func validate() throws {
        guard !names.isEmpty else { throw ValidationError("name at least one model or data set") }
    }

    func run() throws {
        for name in names {
            let folder: URL
            if DatasetLocator.isDatasetName(name) {
                folder = try DatasetLocator.prepare(name).folder
            } else {
                folder = try ModelLocator.resolve(name, revision: revision.revision, refresh: true)
            }
            FileHandle.standardOutput.write(Data((folder.path + "\n").utf8))
        }
    }
}
