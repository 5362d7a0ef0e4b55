#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#elseif canImport(Darwin)
  import Darwin
#endif

/// One safetensors file's contents: float32 tensors in order, and string metadata.
///
/// The format (huggingface safetensors) is an 8-byte little-endian `UInt64` header length `N`,
/// then `N` bytes of UTF-8 JSON, then the data section. The header maps each tensor name to
/// `{"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}` (offsets relative to the data
/// section) and may hold `"__metadata__"`, an object of string to string.
///
/// The writer writes `F32` only, in the order of `tensors`, contiguously, and pads the header
/// with spaces so the data section starts at a multiple of 8 bytes. The reader also converts
/// `F64`, `F16`, `BF16`, `I64`, `I32`, `I16`, `I8`, `U64`, `U32`, `U16`, `U8` and `BOOL` to
/// float32, keeps the tensors in header order, and validates everything before trusting it
/// (see `SafeTensorsError`); no input makes it crash.
///
/// Two values are equal when they hold the same names and shapes in the same order, the same
/// metadata, and bit-identical scalars (so NaN payloads compare equal and `-0.0 != 0.0`), i.e.
/// when they encode to the same bytes.
public struct SafeTensors: Equatable, Sendable {
  /// The tensors, in file order. To be written, names must be distinct and not `__metadata__`.
  public var tensors: [(name: String, tensor: Tensor)]
  /// The header's `__metadata__`; written with keys sorted, omitted when empty.
  public var metadata: [String: String]

  /// The largest header `init(decoding:)` accepts: 100 MB.
  public static let maxHeaderLength = 100_000_000

  /// Wraps `tensors` (kept in order) and `metadata`.
  public init(tensors: [(name: String, tensor: Tensor)] = [], metadata: [String: String] = [:]) {
    self.tensors = tensors
    self.metadata = metadata
  }

  /// The first tensor called `name`, or `nil`.
  public subscript(name: String) -> Tensor? {
    tensors.first { $0.name == name }?.tensor
  }

  /// Same names, shapes and order, same metadata, and bit-identical scalars.
  public static func == (lhs: SafeTensors, rhs: SafeTensors) -> Bool {
    guard lhs.metadata == rhs.metadata, lhs.tensors.count == rhs.tensors.count else { return false }
    for (a, b) in zip(lhs.tensors, rhs.tensors) {
      guard a.name == b.name, a.tensor.shape == b.tensor.shape, a.tensor.count == b.tensor.count
      else { return false }
      let same = a.tensor.withUnsafeBufferPointer { pa in
        b.tensor.withUnsafeBufferPointer { pb in
          guard let x = pa.baseAddress, let y = pb.baseAddress else { return true }
          return memcmp(x, y, pa.count * MemoryLayout<Float>.size) == 0
        }
      }
      guard same else { return false }
    }
    return true
  }
}
