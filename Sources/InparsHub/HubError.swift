import Foundation
import InparsHTTP

/// Why a model or data set name could not be turned into local files.
///
/// Every case names the repository (or data set) and, where one is involved, the file, and says
/// what to do.
public enum HubError: Error, LocalizedError, Sendable, Equatable {
    /// A `--model` value that is neither a folder nor a Hub id.
    case invalidModelSpec(spec: String, reason: String)
    /// A `beir/...` value that does not name a data set.
    case invalidDatasetSpec(spec: String, reason: String)
    /// `--revision` given with a local folder, or two different revisions.
    case revisionConflict(spec: String, reason: String)
    /// The repository holds no such file at that revision (404).
    case fileNotFound(repo: String, revision: String, file: String)
    /// The Hub does not know the revision (branch, tag or commit).
    case revisionNotFound(repo: String, revision: String)
    /// 401/403, or "repository not found" (which the Hub also says for private and gated
    /// repositories when no valid token is sent).
    case accessDenied(
        repo: String, file: String, status: Int, gated: Bool, tokenSent: Bool, localPathHint: Bool)
    /// Offline (`HF_HUB_OFFLINE`) and the cache lacks a file (`file` empty: lacks any snapshot
    /// of the revision).
    case offlineFileMissing(repo: String, revision: String, file: String, cacheFolder: String)
    /// None of the weight files exists in the repository.
    case noWeights(repo: String, revision: String, tried: [String])
    /// A downloaded file's checksum differs from the one the server announced.
    case checksumMismatch(name: String, algorithm: String, expected: String, actual: String)
    /// A downloaded file's size differs from the announced size.
    case sizeMismatch(name: String, expected: Int, actual: Int)
    /// The server's answer lacks what a Hub endpoint sends (`X-Repo-Commit`, `ETag`).
    case notAHubResponse(url: String, missing: String)
    /// A name from the server or the user that cannot be used as a path in the cache.
    case unsafeName(what: String, value: String)
    /// The transfer failed (after the retries the policy allows).
    case transfer(url: String, error: HTTPError)
    /// The server answered with an error status other than the ones above.
    case unexpectedStatus(url: String, status: Int, body: String)
    /// Reading or writing the cache failed.
    case cacheIO(path: String, reason: String)
    /// The data set zip is not there (404) on the data set server.
    case datasetNotFound(name: String, url: String)
    /// The data set zip could not be read, or lacks BEIR's layout.
    case damagedDataset(path: String, reason: String)
    /// The data set has no qrels for the split.
    case splitNotFound(dataset: String, split: String, available: [String])

    public var errorDescription: String? {
        switch self {
        case .invalidModelSpec(let spec, let reason):
            return "--model '\(spec)': \(reason)"
        case .invalidDatasetSpec(let spec, let reason):
            return "'\(spec)': \(reason)"
        case .revisionConflict(let spec, let reason):
            return "'\(spec)': \(reason)"
        case .fileNotFound(let repo, let revision, let file):
            return
                "the Hugging Face repository '\(repo)' has no file '\(file)' at revision '\(revision)' (HTTP 404); check the model id and --revision."
        case .revisionNotFound(let repo, let revision):
            return
                "the Hugging Face repository '\(repo)' has no revision '\(revision)'; check --revision (a branch, tag or commit hash)."
        case .accessDenied(let repo, let file, let status, let gated, let tokenSent, let hint):
            var text =
                "the Hugging Face Hub refused '\(file)' of '\(repo)' (HTTP \(status)): "
                + (gated
                    ? "the model is gated"
                    : "the repository does not exist, or it is private or gated")
            text +=
                tokenSent
                ? ". The token sent was not accepted for it: check that it is valid, and accept the model's terms on its page with the same account."
                : ". If it is gated or private, accept its terms on the model page and pass a token: export HF_TOKEN=hf_... (or run `hf auth login`, which writes the token file under HF_HOME)."
            if hint { text += " No local folder of that name exists either." }
            return text
        case .offlineFileMissing(let repo, let revision, let file, let folder):
            let what = file.isEmpty ? "no snapshot" : "no '\(file)'"
            return
                "HF_HUB_OFFLINE is set and the cache has \(what) of '\(repo)' at revision '\(revision)' (looked in \(folder)); run `inpars download \(repo)` on a machine with network access, or unset HF_HUB_OFFLINE."
        case .noWeights(let repo, let revision, let tried):
            return
                "the Hugging Face repository '\(repo)' at revision '\(revision)' has none of \(tried.joined(separator: ", ")); it is not a model inpars can load."
        case .checksumMismatch(let name, let algorithm, let expected, let actual):
            return
                "\(name): the downloaded bytes have \(algorithm) \(actual), but \(expected) was expected; the partial download was removed, run the command again."
        case .sizeMismatch(let name, let expected, let actual):
            return
                "\(name): downloaded \(actual) bytes, but the server announced \(expected); run the command again."
        case .notAHubResponse(let url, let missing):
            return
                "the answer from \(url) lacks the '\(missing)' header, so it does not come from a Hugging Face Hub endpoint; check HF_ENDPOINT and any proxy."
        case .unsafeName(let what, let value):
            return "refusing \(what) '\(value)': it cannot be used as a file name in the cache."
        case .transfer(let url, let error):
            return "downloading \(url) failed: \(error.localizedDescription)"
        case .unexpectedStatus(let url, let status, let body):
            let excerpt = body.isEmpty ? "" : ": \(body)"
            return "\(url) answered HTTP \(status)\(excerpt)"
        case .cacheIO(let path, let reason):
            return "cache path '\(path)': \(reason)."
        case .datasetNotFound(let name, let url):
            return
                "there is no data set zip for '\(name)' at \(url) (HTTP 404); check the name (e.g. beir/scifact, beir/nfcorpus, beir/trec-covid) or INPARS_BEIR_URL."
        case .damagedDataset(let path, let reason):
            return "data set archive '\(path)' cannot be used: \(reason)."
        case .splitNotFound(let dataset, let split, let available):
            let list = available.isEmpty ? "none" : available.joined(separator: ", ")
            return
                "data set '\(dataset)' has no qrels for split '\(split)' (available: \(list)); name one as beir/<name>/<split>."
        }
    }
}
