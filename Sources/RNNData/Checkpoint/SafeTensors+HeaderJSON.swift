#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#elseif canImport(Darwin)
  import Darwin
#endif

extension SafeTensors {
  /// The header's schema read with `JSONReader`, so it can keep key order, see duplicate keys,
  /// read integers exactly, and bound its nesting depth.
  ///
  /// `parse()` first checks the whole header against the JSON grammar, so a syntax error anywhere
  /// is reported as such (`headerNotJSON`), then reads the schema.
  struct HeaderParser {
    var reader: JSONReader

    /// Deeper nesting is rejected; a valid header needs 3 levels.
    static let maxDepth = 64

    init(bytes: UnsafeRawBufferPointer) {
      reader = JSONReader(bytes: bytes, textName: "header")
    }

    /// The tensor entries in header order, and the metadata.
    mutating func parse() throws -> (entries: [HeaderEntry], metadata: [String: String]) {
      do {
        try validateSyntax()
        return try readHeader()
      } catch let error as JSONSyntaxError {
        throw SafeTensorsError.headerNotJSON(offset: error.offset, reason: error.reason)
      }
    }

    /// Checks that the header is one JSON value, an object, with only whitespace after it.
    private mutating func validateSyntax() throws {
      reader.position = 0
      reader.skipWhitespace()
      let first = reader.peek()
      try reader.skipValue(depth: 0, maxDepth: HeaderParser.maxDepth)
      reader.skipWhitespace()
      guard reader.isAtEnd else { throw reader.error("unexpected data after the header object") }
      guard first == UInt8(ascii: "{") else { throw SafeTensorsError.headerNotObject }
    }

    // MARK: Schema

    /// The entries and metadata of a header that passed `validateSyntax()`.
    private mutating func readHeader() throws -> (entries: [HeaderEntry], metadata: [String: String]) {
      reader.position = 0
      try reader.expect(UInt8(ascii: "{"))
      var entries: [HeaderEntry] = []
      var names = Set<String>()
      var metadata: [String: String]? = nil
      if reader.consume(UInt8(ascii: "}")) { return ([], [:]) }
      repeat {
        let key = try reader.readKey()
        if key == SafeTensors.metadataKey {
          guard metadata == nil else { throw SafeTensorsError.duplicateName(key) }
          metadata = try readMetadata()
        } else {
          guard names.insert(key).inserted else { throw SafeTensorsError.duplicateName(key) }
          entries.append(try readEntry(name: key))
        }
      } while try reader.nextMember(closing: UInt8(ascii: "}"))
      return (entries, metadata ?? [:])
    }

    private mutating func readMetadata() throws -> [String: String] {
      guard reader.peek() == UInt8(ascii: "{") else {
        throw SafeTensorsError.invalidMetadata(
          reason: "expected an object, found \(reader.kindOfValue())")
      }
      reader.position += 1
      var metadata: [String: String] = [:]
      if reader.consume(UInt8(ascii: "}")) { return metadata }
      repeat {
        let key = try reader.readKey()
        guard reader.peek() == UInt8(ascii: "\"") else {
          throw SafeTensorsError.invalidMetadata(
            reason: "value of \(key.debugDescription) is \(reader.kindOfValue()), not a string")
        }
        let value = try reader.readString()
        guard metadata.updateValue(value, forKey: key) == nil else {
          throw SafeTensorsError.invalidMetadata(
            reason: "key \(key.debugDescription) appears more than once")
        }
      } while try reader.nextMember(closing: UInt8(ascii: "}"))
      return metadata
    }

    private mutating func readEntry(name: String) throws -> HeaderEntry {
      guard reader.peek() == UInt8(ascii: "{") else {
        throw SafeTensorsError.entryNotObject(name: name)
      }
      reader.position += 1
      var dtype: String? = nil
      var shape: [Int]? = nil
      var offsets: (begin: Int, end: Int)? = nil
      if !reader.consume(UInt8(ascii: "}")) {
        repeat {
          let field = try reader.readKey()
          func invalid(_ reason: String) -> SafeTensorsError {
            .invalidField(name: name, field: field, reason: reason)
          }
          switch field {
          case "dtype":
            guard dtype == nil else { throw invalid("appears more than once") }
            guard reader.peek() == UInt8(ascii: "\"") else {
              throw invalid("expected a string, found \(reader.kindOfValue())")
            }
            dtype = try reader.readString()
          case "shape":
            guard shape == nil else { throw invalid("appears more than once") }
            shape = try readIntegers { number in
              guard number.isInteger else {
                throw invalid("dimension \(number.text) is not an integer")
              }
              if number.isNegative && number.magnitude != 0 {
                throw SafeTensorsError.negativeDimension(name: name, dimension: number.text)
              }
              guard let value = number.magnitude else {
                throw SafeTensorsError.shapeOverflow(name: name)
              }
              return value
            } orElse: {
              invalid("expected an array of integers, found \($0)")
            }
          case "data_offsets":
            guard offsets == nil else { throw invalid("appears more than once") }
            let values = try readIntegers { number in
              guard number.isInteger, !number.isNegative || number.magnitude == 0 else {
                throw invalid("offset \(number.text) is not a non-negative integer")
              }
              guard let value = number.magnitude else {
                throw invalid("offset \(number.text) is too large")
              }
              return value
            } orElse: {
              invalid("expected an array of two integers, found \($0)")
            }
            guard values.count == 2 else {
              throw invalid("expected two offsets, found \(values.count)")
            }
            offsets = (values[0], values[1])
          default:
            try reader.skipValue(depth: 2, maxDepth: HeaderParser.maxDepth)
          }
        } while try reader.nextMember(closing: UInt8(ascii: "}"))
      }
      guard let dtype else { throw SafeTensorsError.missingField(name: name, field: "dtype") }
      guard let shape else { throw SafeTensorsError.missingField(name: name, field: "shape") }
      guard let offsets else {
        throw SafeTensorsError.missingField(name: name, field: "data_offsets")
      }
      return HeaderEntry(
        name: name, dtype: dtype, shape: shape, begin: offsets.begin, end: offsets.end)
    }

    /// An array of numbers, each turned into an `Int` by `convert`; `wrongType` builds the error
    /// for anything else (given the kind of value found).
    private mutating func readIntegers(
      _ convert: (JSONNumber) throws -> Int, orElse wrongType: (String) -> SafeTensorsError
    ) throws -> [Int] {
      guard reader.peek() == UInt8(ascii: "[") else { throw wrongType(reader.kindOfValue()) }
      reader.position += 1
      var values: [Int] = []
      if reader.consume(UInt8(ascii: "]")) { return values }
      repeat {
        reader.skipWhitespace()
        guard let byte = reader.peek(), byte == UInt8(ascii: "-") || (0x30...0x39).contains(byte)
        else {
          throw wrongType("an array holding \(reader.kindOfValue())")
        }
        values.append(try convert(try reader.readNumber()))
      } while try reader.nextMember(closing: UInt8(ascii: "]"))
      return values
    }
  }
}
