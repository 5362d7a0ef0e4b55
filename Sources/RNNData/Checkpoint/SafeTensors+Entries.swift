#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#elseif canImport(Darwin)
  import Darwin
#endif

extension SafeTensors {
  /// One tensor's entry as read from the header, not yet checked against the data section.
  struct HeaderEntry {
    var name: String
    var dtype: String
    var shape: [Int]
    var begin: Int
    var end: Int

    /// Checks dtype, shape and range on their own; returns the dtype and element count.
    func validate(dataSize: Int) throws -> (dtype: DType, count: Int) {
      guard let type = DType(rawValue: dtype) else {
        throw SafeTensorsError.unknownDType(name: name, dtype: dtype)
      }
      var count = 1
      for dimension in shape {
        let (product, overflow) = count.multipliedReportingOverflow(by: dimension)
        guard !overflow else { throw SafeTensorsError.shapeOverflow(name: name) }
        count = product
      }
      let (byteCount, overflow) = count.multipliedReportingOverflow(by: type.size)
      guard !overflow else { throw SafeTensorsError.shapeOverflow(name: name) }
      guard begin <= end else {
        throw SafeTensorsError.reversedRange(name: name, begin: begin, end: end)
      }
      guard end - begin == byteCount else {
        throw SafeTensorsError.sizeMismatch(name: name, expected: byteCount, actual: end - begin)
      }
      guard end <= dataSize else {
        throw SafeTensorsError.rangeOutOfBounds(name: name, end: end, dataSize: dataSize)
      }
      return (type, count)
    }
  }

  /// The element types the reader converts to float32.
  enum DType: String {
    case f64 = "F64"
    case f32 = "F32"
    case f16 = "F16"
    case bf16 = "BF16"
    case i64 = "I64"
    case i32 = "I32"
    case i16 = "I16"
    case i8 = "I8"
    case u64 = "U64"
    case u32 = "U32"
    case u16 = "U16"
    case u8 = "U8"
    case bool = "BOOL"

    /// Bytes per element.
    var size: Int {
      switch self {
      case .f64, .i64, .u64: return 8
      case .f32, .i32, .u32: return 4
      case .f16, .bf16, .i16, .u16: return 2
      case .i8, .u8, .bool: return 1
      }
    }

    /// `count` elements of this type, little-endian in `source` (`count * size` bytes), as float32.
    func convert(_ source: UnsafeRawBufferPointer, count: Int) -> [Float] {
      [Float](unsafeUninitializedCapacity: count) { out, initialized in
        func map<T: FixedWidthInteger>(_: T.Type, _ transform: (T) -> Float) {
          for i in 0..<count {
            let raw = source.loadUnaligned(fromByteOffset: i * MemoryLayout<T>.size, as: T.self)
            out[i] = transform(T(littleEndian: raw))
          }
        }
        switch self {
        case .f32:
          #if _endian(little)
            UnsafeMutableRawBufferPointer(out).copyMemory(
              from: UnsafeRawBufferPointer(rebasing: source[0..<(count * 4)]))
          #else
            map(UInt32.self) { Float(bitPattern: $0) }
          #endif
        case .f64: map(UInt64.self) { Float(Double(bitPattern: $0)) }
        case .f16: map(UInt16.self, SafeTensors.floatFromHalf)
        case .bf16: map(UInt16.self) { Float(bitPattern: UInt32($0) << 16) }
        case .i64: map(Int64.self) { Float($0) }
        case .i32: map(Int32.self) { Float($0) }
        case .i16: map(Int16.self) { Float($0) }
        case .i8: map(Int8.self) { Float($0) }
        case .u64: map(UInt64.self) { Float($0) }
        case .u32: map(UInt32.self) { Float($0) }
        case .u16: map(UInt16.self) { Float($0) }
        case .u8: map(UInt8.self) { Float($0) }
        case .bool: map(UInt8.self) { $0 == 0 ? 0 : 1 }
        }
        initialized = count
      }
    }
  }

  /// IEEE 754 binary16 bits to float32 (exact; keeps signed zeros, infinities and NaN payloads).
  static func floatFromHalf(_ bits: UInt16) -> Float {
    let sign = UInt32(bits & 0x8000) << 16
    let exponent = UInt32(bits >> 10) & 0x1F
    let mantissa = UInt32(bits & 0x3FF)
    switch exponent {
    case 0x1F:
      return Float(bitPattern: sign | 0x7F80_0000 | mantissa << 13)
    case 0:
      let magnitude = Float(mantissa) * 0x1p-24
      return sign == 0 ? magnitude : -magnitude
    default:
      return Float(bitPattern: sign | (exponent + 112) << 23 | mantissa << 13)
    }
  }
}
