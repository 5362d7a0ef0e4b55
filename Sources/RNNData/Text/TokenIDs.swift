#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#elseif canImport(Darwin)
  import Darwin
#endif

/// Token ids in the narrowest unsigned integer that holds every id of the vocabulary: 1 byte per
/// token for `V <= 256`, 2 for `V <= 65536`, else 4. A corpus of hundreds of megabytes of text
/// then takes one or two bytes per character instead of the four of `[Int32]`.
///
/// A value type that reads like `[Int32]`: elements are `Int32`, and slicing shares the storage
/// (like `ArraySlice`, a slice keeps the indices of the whole; `startIndex` need not be 0).
/// The storage is never changed after it is built.
public struct TokenIDs: RandomAccessCollection, Sendable {
  public typealias Index = Int
  public typealias Element = Int32
  public typealias SubSequence = TokenIDs
  public typealias Indices = Range<Int>

  private let buffer: TokenBuffer
  public let startIndex: Int
  public let endIndex: Int

  /// The storage width for a vocabulary of `size` tokens: 1, 2 or 4 bytes.
  public static func bytesPerToken(vocabularySize size: Int) -> Int {
    size <= 1 << 8 ? 1 : (size <= 1 << 16 ? 2 : 4)
  }

  /// The ids `ids`, each in `0 ..< vocabularySize`, stored in the width that size needs.
  public init<C: Collection>(_ ids: C, vocabularySize: Int) where C.Element == Int32 {
    let buffer = TokenBuffer(capacity: ids.count, bytesPerToken: Self.bytesPerToken(vocabularySize: vocabularySize))
    for id in ids {
      require(id >= 0 && Int(id) < vocabularySize, "token id \(id) is outside 0..<\(vocabularySize)")
      buffer.append(id)
    }
    self.init(buffer)
  }

  /// The ids `ids` (none negative), stored in the width their largest one needs.
  public init(_ ids: [Int32]) {
    self.init(ids, vocabularySize: Int(ids.max() ?? 0) + 1)
  }

  /// All tokens of a buffer that is complete.
  init(_ buffer: TokenBuffer) {
    self.buffer = buffer
    startIndex = 0
    endIndex = buffer.count
  }

  private init(_ buffer: TokenBuffer, _ bounds: Range<Int>) {
    self.buffer = buffer
    startIndex = bounds.lowerBound
    endIndex = bounds.upperBound
  }

  /// Bytes each token takes: 1, 2 or 4.
  public var bytesPerToken: Int { buffer.bytesPerToken }

  @inline(__always)
  public subscript(position: Int) -> Int32 {
    require(
      position >= startIndex && position < endIndex, "index \(position) is outside \(startIndex)..<\(endIndex)")
    return buffer[position]
  }

  public subscript(bounds: Range<Int>) -> TokenIDs {
    require(
      bounds.lowerBound >= startIndex && bounds.upperBound <= endIndex,
      "range \(bounds) is outside \(startIndex)..<\(endIndex)")
    return TokenIDs(buffer, bounds)
  }

  /// Calls `body` with each run of at most `chunk` consecutive ids widened to `Int32`, in order,
  /// for passes over all tokens at memory speed. The buffer is scratch: `body` may change it.
  func forEachChunk(of chunk: Int = 1 << 16, _ body: (UnsafeMutableBufferPointer<Int32>) -> Void) {
    let scratch = UnsafeMutableBufferPointer<Int32>.allocate(capacity: chunk)
    defer { scratch.deallocate() }
    var start = startIndex
    while start < endIndex {
      let count = Swift.min(chunk, endIndex - start)
      buffer.widen(from: start, count: count, into: scratch.baseAddress!)
      body(UnsafeMutableBufferPointer(rebasing: scratch[..<count]))
      start += count
    }
  }
}

/// The memory of `TokenIDs`: `count` ids of `bytesPerToken` bytes each, in one `malloc` block
/// whose untouched pages cost nothing, so a loader can reserve the most it may need.
///
/// Appended to only while it is built (by one owner); read-only once wrapped in a `TokenIDs`.
final class TokenBuffer: @unchecked Sendable {
  let bytesPerToken: Int
  let capacity: Int
  private(set) var count = 0
  private let base: UnsafeMutableRawPointer

  init(capacity: Int, bytesPerToken: Int) {
    require([1, 2, 4].contains(bytesPerToken), "tokens take 1, 2 or 4 bytes")
    self.bytesPerToken = bytesPerToken
    self.capacity = capacity
    base = malloc(max(capacity * bytesPerToken, 1))!
    adviseHugePages(UnsafeMutableRawBufferPointer(start: base, count: capacity * bytesPerToken))
  }

  deinit { free(base) }

  @inline(__always)
  subscript(position: Int) -> Int32 {
    switch bytesPerToken {
    case 1: Int32(base.load(fromByteOffset: position, as: UInt8.self))
    case 2: Int32(base.load(fromByteOffset: position &* 2, as: UInt16.self))
    default: base.load(fromByteOffset: position &* 4, as: Int32.self)
    }
  }

  @inline(__always)
  func append(_ id: Int32) {
    require(count < capacity, "token buffer is full")
    switch bytesPerToken {
    case 1: base.storeBytes(of: UInt8(truncatingIfNeeded: id), toByteOffset: count, as: UInt8.self)
    case 2: base.storeBytes(of: UInt16(truncatingIfNeeded: id), toByteOffset: count &* 2, as: UInt16.self)
    default: base.storeBytes(of: id, toByteOffset: count &* 4, as: Int32.self)
    }
    count += 1
  }

  /// Appends `ids`, each of which must fit the width.
  func append(_ ids: UnsafeBufferPointer<Int32>) {
    require(ids.count <= capacity - count, "token buffer is full")
    let end = base + count * bytesPerToken
    switch bytesPerToken {
    case 1: narrow(ids, into: end.assumingMemoryBound(to: UInt8.self))
    case 2: narrow(ids, into: end.assumingMemoryBound(to: UInt16.self))
    default: end.copyMemory(from: ids.baseAddress!, byteCount: ids.count * 4)
    }
    count += ids.count
  }

  /// The free space at the end, as bytes, for filling in place with `read`; `didAppend` counts
  /// what was filled. Only for 1-byte tokens.
  var freeBytes: UnsafeMutableRawBufferPointer {
    require(bytesPerToken == 1, "raw filling is for 1-byte tokens")
    return UnsafeMutableRawBufferPointer(start: base + count, count: capacity - count)
  }

  func didAppend(_ n: Int) {
    require(n >= 0 && n <= capacity - count, "appended beyond the capacity")
    count += n
  }

  /// Writes ids `start ..< start + n` into `out` as `Int32`.
  func widen(from start: Int, count n: Int, into out: UnsafeMutablePointer<Int32>) {
    switch bytesPerToken {
    case 1: widen((base + start).assumingMemoryBound(to: UInt8.self), n, out)
    case 2: widen((base + start * 2).assumingMemoryBound(to: UInt16.self), n, out)
    default: out.update(from: (base + start * 4).assumingMemoryBound(to: Int32.self), count: n)
    }
  }

  private func narrow<Word: FixedWidthInteger>(_ ids: UnsafeBufferPointer<Int32>, into out: UnsafeMutablePointer<Word>)
  {
    for i in ids.indices { out[i] = Word(truncatingIfNeeded: ids[i]) }
  }

  private func widen<Word: FixedWidthInteger>(
    _ words: UnsafePointer<Word>, _ n: Int, _ out: UnsafeMutablePointer<Int32>
  ) {
    for i in 0..<n { out[i] = Int32(truncatingIfNeeded: words[i]) }
  }
}

/// Asks Linux to back the whole 2 MiB pages inside `buffer` with huge pages: faulting in hundreds
/// of megabytes of fresh memory otherwise costs more than decoding it.
func adviseHugePages(_ buffer: UnsafeMutableRawBufferPointer) {
  #if os(Linux)
    let hugePage = 2 << 20
    guard buffer.count >= 2 * hugePage, let base = buffer.baseAddress else { return }
    let start = (Int(bitPattern: base) + hugePage - 1) & ~(hugePage - 1)
    let end = (Int(bitPattern: base) + buffer.count) & ~(hugePage - 1)
    if end > start { _ = madvise(UnsafeMutableRawPointer(bitPattern: start), end - start, MADV_HUGEPAGE) }
  #endif
}
