import Foundation

/// Plain words for errors that come from Foundation (file and JSON errors), instead of
/// "The operation could not be completed. (NSCocoaErrorDomain error 512.)".
///
/// - Our own errors (`LocalizedError` with a description): that description.
/// - File errors: the POSIX reason (`strerror`: "Not a directory", "Permission denied").
/// - `JSONSerialization` errors: "not valid JSON (<where it broke>)".
/// - `JSONDecoder` errors: what was wrong and at which field ("field 'd_model': expected a
///   number").
public func plainDescription(of error: any Error) -> String {
    if let decoding = error as? DecodingError { return describe(decoding) }
    if !(error is CocoaError), let localized = error as? LocalizedError,
        let text = localized.errorDescription
    {
        return text
    }
    let nsError = error as NSError
    if let underlying = nsError.userInfo[NSUnderlyingErrorKey] as? any Error {
        let inner = underlying as NSError
        if inner.domain == NSPOSIXErrorDomain { return String(cString: strerror(Int32(inner.code))) }
        return plainDescription(of: underlying)
    }
    if nsError.domain == NSPOSIXErrorDomain { return String(cString: strerror(Int32(nsError.code))) }
    if nsError.domain == NSCocoaErrorDomain {
        switch nsError.code {
        case 3840:
            let detail = nsError.userInfo[NSDebugDescriptionErrorKey] as? String
            return "not valid JSON" + (detail.map { " (\($0))" } ?? "")
        case NSFileNoSuchFileError, NSFileReadNoSuchFileError:
            return String(cString: strerror(ENOENT))
        case NSFileReadNoPermissionError, NSFileWriteNoPermissionError:
            return String(cString: strerror(EACCES))
        case NSFileWriteOutOfSpaceError: return String(cString: strerror(ENOSPC))
        case NSFileWriteVolumeReadOnlyError: return String(cString: strerror(EROFS))
        default: break
        }
    }
    return nsError.localizedDescription
}

private func describe(_ error: DecodingError) -> String {
    func at(_ context: DecodingError.Context) -> String {
        let path = context.codingPath.map { key in
            key.intValue.map { "[\($0)]" } ?? key.stringValue
        }.joined(separator: ".")
        return path.isEmpty ? "" : "field '\(path)': "
    }
    switch error {
    case .typeMismatch(let type, let context):
        return "\(at(context))expected \(typeName(type))"
    case .valueNotFound(let type, let context):
        return "\(at(context))expected \(typeName(type)), found null"
    case .keyNotFound(let key, let context):
        return "\(at(context))missing field '\(key.stringValue)'"
    case .dataCorrupted(let context):
        if let underlying = context.underlyingError { return plainDescription(of: underlying) }
        return at(context) + (context.codingPath.isEmpty ? "not valid JSON" : context.debugDescription)
    @unknown default:
        return "\(error)"
    }
}

private func typeName(_ type: Any.Type) -> String {
    switch type {
    case is String.Type: return "a string"
    case is Bool.Type: return "true or false"
    case is Int.Type, is Int32.Type, is UInt64.Type: return "an integer"
    case is Double.Type, is Float.Type: return "a number"
    default: return "a \(type)"
    }
}
