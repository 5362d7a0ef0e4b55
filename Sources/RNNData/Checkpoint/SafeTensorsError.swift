/// Why a safetensors file could not be read, parsed or written.
///
/// Every case names the problem and, where there is one, the tensor; `description` is a single
/// line suitable for a command-line error message. Names are quoted with Swift escapes so that a
/// name holding a newline cannot break the line.
public enum SafeTensorsError: Error, Equatable, Sendable, CustomStringConvertible {
  // MARK: File system

  /// The file could not be opened or read; `reason` is the system's explanation.
  case unreadable(path: String, reason: String)
  /// The file could not be written, synced or moved into place; `reason` is the system's explanation.
  case unwritable(path: String, reason: String)

  // MARK: Framing

  /// The input is shorter than the 8-byte header length that starts every file.
  case truncatedLength(size: Int)
  /// The header length is zero, so there is no header object at all.
  case emptyHeader
  /// The header length points past the end of the input.
  case headerLengthExceedsFile(headerLength: UInt64, fileSize: Int)
  /// The header length is above the sanity bound (100 MB by default).
  case headerTooLarge(headerLength: UInt64, limit: Int)

  // MARK: Header syntax

  /// The header is not valid UTF-8; `offset` is the first bad byte, counted from the header start.
  case headerNotUTF8(offset: Int)
  /// The header is not valid JSON; `offset` is counted from the header start.
  case headerNotJSON(offset: Int, reason: String)
  /// The header is valid JSON but not an object.
  case headerNotObject

  // MARK: Header entries

  /// Two tensors in the header (or two `__metadata__` keys) share a name.
  case duplicateName(String)
  /// A tensor's entry is not a JSON object.
  case entryNotObject(name: String)
  /// A tensor's entry lacks `dtype`, `shape` or `data_offsets`.
  case missingField(name: String, field: String)
  /// A tensor's field has the wrong JSON type or form (e.g. `shape` holding `1.5`).
  case invalidField(name: String, field: String, reason: String)
  /// A tensor's dtype is not one this reader converts to float32.
  case unknownDType(name: String, dtype: String)
  /// A tensor's shape holds a negative dimension (given as written in the header).
  case negativeDimension(name: String, dimension: String)
  /// A tensor's element count or byte count does not fit in `Int`.
  case shapeOverflow(name: String)
  /// `__metadata__` is not an object mapping strings to strings.
  case invalidMetadata(reason: String)

  // MARK: Data layout

  /// A tensor's `data_offsets` begin after they end.
  case reversedRange(name: String, begin: Int, end: Int)
  /// A tensor's byte range differs in length from what its shape and dtype need.
  case sizeMismatch(name: String, expected: Int, actual: Int)
  /// A tensor's byte range ends past the end of the data section.
  case rangeOutOfBounds(name: String, end: Int, dataSize: Int)
  /// Two tensors' byte ranges overlap.
  case overlappingRanges(first: String, second: String)
  /// Bytes `begin..<end` of the data section belong to no tensor, between two tensors.
  case gap(begin: Int, end: Int)
  /// The data section continues after the last tensor.
  case trailingBytes(count: Int, dataSize: Int)

  // MARK: Writing

  /// A tensor to be written is named `__metadata__`, which the format reserves.
  case reservedName(String)
  /// A tensor to be written holds a different number of scalars than its shape says.
  case scalarCountMismatch(name: String, shape: [Int], count: Int)

  /// One line naming the problem.
  public var description: String {
    switch self {
    case .unreadable(let path, let reason):
      return "cannot read checkpoint \(path): \(reason)"
    case .unwritable(let path, let reason):
      return "cannot write checkpoint \(path): \(reason)"
    case .truncatedLength(let size):
      return "checkpoint is \(size) bytes, shorter than its 8-byte header length"
    case .emptyHeader:
      return "checkpoint header length is 0"
    case .headerLengthExceedsFile(let headerLength, let fileSize):
      return "checkpoint header length \(headerLength) exceeds file size \(fileSize)"
    case .headerTooLarge(let headerLength, let limit):
      return "checkpoint header length \(headerLength) exceeds the limit of \(limit) bytes"
    case .headerNotUTF8(let offset):
      return "checkpoint header is not valid UTF-8 (bad byte at header offset \(offset))"
    case .headerNotJSON(let offset, let reason):
      return "checkpoint header is not valid JSON at header offset \(offset): \(reason)"
    case .headerNotObject:
      return "checkpoint header is not a JSON object"
    case .duplicateName(let name):
      return "checkpoint header names \(name.debugDescription) more than once"
    case .entryNotObject(let name):
      return "checkpoint entry \(name.debugDescription) is not a JSON object"
    case .missingField(let name, let field):
      return "checkpoint entry \(name.debugDescription) has no \(field.debugDescription) field"
    case .invalidField(let name, let field, let reason):
      return
        "checkpoint entry \(name.debugDescription) has an invalid \(field.debugDescription): \(reason)"
    case .unknownDType(let name, let dtype):
      return
        "checkpoint entry \(name.debugDescription) has unsupported dtype \(dtype.debugDescription)"
    case .negativeDimension(let name, let dimension):
      return "checkpoint entry \(name.debugDescription) has negative dimension \(dimension)"
    case .shapeOverflow(let name):
      return "checkpoint entry \(name.debugDescription) has a shape whose size overflows"
    case .invalidMetadata(let reason):
      return "checkpoint __metadata__ is invalid: \(reason)"
    case .reversedRange(let name, let begin, let end):
      return
        "checkpoint entry \(name.debugDescription) has data_offsets [\(begin), \(end)] that end before they begin"
    case .sizeMismatch(let name, let expected, let actual):
      return
        "checkpoint entry \(name.debugDescription) needs \(expected) bytes but its data_offsets span \(actual)"
    case .rangeOutOfBounds(let name, let end, let dataSize):
      return
        "checkpoint entry \(name.debugDescription) ends at byte \(end) past the data section of \(dataSize) bytes"
    case .overlappingRanges(let first, let second):
      return "checkpoint entries \(first.debugDescription) and \(second.debugDescription) overlap"
    case .gap(let begin, let end):
      return "checkpoint data bytes \(begin)..<\(end) belong to no tensor"
    case .trailingBytes(let count, let dataSize):
      return
        "checkpoint data section of \(dataSize) bytes has \(count) trailing bytes after the last tensor"
    case .reservedName(let name):
      return "tensor name \(name.debugDescription) is reserved by the safetensors format"
    case .scalarCountMismatch(let name, let shape, let count):
      return "tensor \(name.debugDescription) of shape \(shape) holds \(count) scalars"
    }
  }
}
