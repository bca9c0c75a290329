/// The element types a checkpoint tensor may be stored in; all are read as `Float`.
///
/// Names follow safetensors (`F32`, `BF16`, …). Conversion of `F16` and `BF16` to `Float` is
/// exact; `F64` rounds to nearest; integer and boolean tensors are converted by value (exact
/// for magnitudes up to 2^24), which suits buffers such as position ids.
/// All stored data is little-endian, as both formats specify.
public enum StorageDType: String, Sendable, CaseIterable {
    case f64 = "F64"
    case f32 = "F32"
    case f16 = "F16"
    case bf16 = "BF16"
    case i64 = "I64"
    case i32 = "I32"
    case i16 = "I16"
    case i8 = "I8"
    case u8 = "U8"
    case bool = "BOOL"

    /// Bytes per element.
    public var byteSize: Int {
        switch self {
        case .f64, .i64: return 8
        case .f32, .i32: return 4
        case .f16, .bf16, .i16: return 2
        case .i8, .u8, .bool: return 1
        }
    }

    /// Reads element `index` (in elements, not bytes) of a buffer starting at `base`.
    @inline(__always)
    func element(_ base: UnsafeRawPointer, _ index: Int) -> Float {
        switch self {
        case .f32: return base.loadUnaligned(fromByteOffset: index * 4, as: Float.self)
        case .f16:
            return Self.halfToFloat(base.loadUnaligned(fromByteOffset: index * 2, as: UInt16.self))
        case .bf16:
            let bits = base.loadUnaligned(fromByteOffset: index * 2, as: UInt16.self)
            return Float(bitPattern: UInt32(bits) << 16)
        case .f64: return Float(base.loadUnaligned(fromByteOffset: index * 8, as: Double.self))
        case .i64: return Float(base.loadUnaligned(fromByteOffset: index * 8, as: Int64.self))
        case .i32: return Float(base.loadUnaligned(fromByteOffset: index * 4, as: Int32.self))
        case .i16: return Float(base.loadUnaligned(fromByteOffset: index * 2, as: Int16.self))
        case .i8: return Float(base.loadUnaligned(fromByteOffset: index, as: Int8.self))
        case .u8, .bool: return Float(base.load(fromByteOffset: index, as: UInt8.self))
        }
    }

    /// Converts `output.count` contiguous elements starting at `source` into `output`.
    ///
    /// `F32` is a plain `memcpy`; the others are one tight loop per type.
    func convert(from source: UnsafeRawPointer, into output: UnsafeMutableBufferPointer<Float>) {
        let count = output.count
        guard count > 0, let out = output.baseAddress else { return }
        switch self {
        case .f32:
            UnsafeMutableRawPointer(out).copyMemory(from: source, byteCount: count * 4)
        case .f16:
            for i in 0..<count {
                out[i] = Self.halfToFloat(source.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self))
            }
        case .bf16:
            for i in 0..<count {
                let bits = source.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self)
                out[i] = Float(bitPattern: UInt32(bits) << 16)
            }
        default:
            for i in 0..<count { out[i] = element(source, i) }
        }
    }

    /// IEEE 754 binary16 → binary32, exact (subnormals, infinities and NaN payloads kept).
    @inline(__always)
    static func halfToFloat(_ h: UInt16) -> Float {
        let sign = UInt32(h & 0x8000) << 16
        let exponent = UInt32(h >> 10) & 0x1F
        let mantissa = UInt32(h & 0x03FF)
        if exponent == 0x1F {
            return Float(bitPattern: sign | 0x7F80_0000 | (mantissa << 13))
        }
        if exponent == 0 {
            // Zero or subnormal: value = mantissa · 2^-24, exactly representable in Float.
            let magnitude = Float(mantissa) * 0x1p-24
            return Float(bitPattern: sign | magnitude.bitPattern)
        }
        return Float(bitPattern: sign | ((exponent + 112) << 23) | (mantissa << 13))
    }
}
