/// The element-wise kernels around the oneDNN products: bf16 rounding, symmetric per-row int8
/// quantization and the int32 → fp32 rescale. SIMD over 16 lanes with a scalar tail.
enum Quantization {
    /// Rounds fp32 to bf16 (round to nearest, ties to even), as PyTorch's `.to(torch.bfloat16)`
    /// does for finite values.
    static func roundToBFloat16(
        _ x: UnsafePointer<Float>, count: Int, into out: UnsafeMutablePointer<UInt16>
    ) {
        var i = 0
        while i + 16 <= count {
            let bits = UnsafeRawPointer(x + i).loadUnaligned(as: SIMD16<UInt32>.self)
            let rounded = (bits &+ 0x7FFF &+ ((bits &>> 16) & 1)) &>> 16
            UnsafeMutableRawPointer(out + i).storeBytes(
                of: SIMD16<UInt16>(truncatingIfNeeded: rounded), as: SIMD16<UInt16>.self)
            i += 16
        }
        while i < count {
            let bits = x[i].bitPattern
            out[i] = UInt16(truncatingIfNeeded: (bits &+ 0x7FFF &+ ((bits >> 16) & 1)) >> 16)
            i += 1
        }
    }

    /// The value a bf16 bit pattern stands for.
    static func float(bfloat16 bits: UInt16) -> Float { Float(bitPattern: UInt32(bits) << 16) }

    /// Quantizes each row of a `[rows, columns]` matrix to int8 with its own symmetric scale
    /// `max|row| / levels` (`q = round(x / scale)`, ties to even; an all-zero row gets scale 0
    /// and zeros).
    ///
    /// - Parameter levels: 127, or 63 for weights on CPUs without VNNI (see
    ///   ``DNNLInfo/int8WeightLevels``).
    static func quantizeRows(
        _ x: UnsafePointer<Float>, rows: Int, columns: Int, into q: UnsafeMutablePointer<Int8>,
        scales: UnsafeMutablePointer<Float>, levels: Float = 127
    ) {
        for row in 0..<rows {
            let source = x + row * columns
            let target = q + row * columns
            let maximum = maxMagnitude(source, count: columns)
            scales[row] = maximum / levels
            let inverse: Float = maximum > 0 ? levels / maximum : 0
            var i = 0
            while i + 16 <= columns {
                let v = UnsafeRawPointer(source + i).loadUnaligned(as: SIMD16<Float>.self) * inverse
                let r = SIMD16<Int32>(v.rounded(.toNearestOrEven))
                UnsafeMutableRawPointer(target + i).storeBytes(
                    of: SIMD16<Int8>(truncatingIfNeeded: r), as: SIMD16<Int8>.self)
                i += 16
            }
            while i < columns {
                target[i] = Int8((source[i] * inverse).rounded(.toNearestOrEven))
                i += 1
            }
        }
    }

    /// `max |x[i]|` over `count` elements.
    static func maxMagnitude(_ x: UnsafePointer<Float>, count: Int) -> Float {
        var lanes = SIMD16<Float>(repeating: 0)
        var i = 0
        while i + 16 <= count {
            let v = UnsafeRawPointer(x + i).loadUnaligned(as: SIMD16<Float>.self)
            lanes = pointwiseMax(lanes, pointwiseMax(v, -v))
            i += 16
        }
        var maximum = lanes.max()
        while i < count {
            maximum = max(maximum, abs(x[i]))
            i += 1
        }
        return maximum
    }

    /// `out[m, n] (+)= Float(acc[m, n]) · rowScales[m] · columnScales[n]`: an int8 product's
    /// s32 accumulators back to fp32 (activation scale per row, weight scale per column).
    static func rescale(
        _ acc: UnsafePointer<Int32>, rows: Int, columns: Int, rowScales: UnsafePointer<Float>,
        columnScales: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>,
        accumulate: Bool
    ) {
        for row in 0..<rows {
            let a = acc + row * columns
            let o = out + row * columns
            let rowScale = rowScales[row]
            var i = 0
            while i + 16 <= columns {
                var v = SIMD16<Float>(UnsafeRawPointer(a + i).loadUnaligned(as: SIMD16<Int32>.self))
                v *= UnsafeRawPointer(columnScales + i).loadUnaligned(as: SIMD16<Float>.self) * rowScale
                if accumulate { v += UnsafeRawPointer(o + i).loadUnaligned(as: SIMD16<Float>.self) }
                UnsafeMutableRawPointer(o + i).storeBytes(of: v, as: SIMD16<Float>.self)
                i += 16
            }
            while i < columns {
                let v = Float(a[i]) * (columnScales[i] * rowScale)
                o[i] = accumulate ? o[i] + v : v
                i += 1
            }
        }
    }
}
