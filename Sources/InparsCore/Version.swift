/// The inpars release this binary was built from.
public enum InparsVersion {
    /// Semantic version of the tool and its file formats' writer.
    public static let string = "0.1.0"
}
