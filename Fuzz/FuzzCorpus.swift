// libFuzzer target: the corpus reader.
//
// Each input is the bytes of one text file. The strict UTF-8 decoder behind `Corpus.load` is
// checked against the standard library's (same scalars, or a failure exactly where Swift's
// validation fails), then the input is written to a per-process file in /dev/shm and read with
// `Corpus.load(paths:)` (odd lengths with a small vocabulary, even lengths without). Errors are
// fine; traps are bugs.
// Build and run with `Scripts/fuzz corpus [SECONDS]`.

#if canImport(Glibc)
  import Glibc
#endif
@testable import RNN

/// The per-process scratch file.
private let scratchPath: String = {
  let folder = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp"
  let path = "\(folder)/rnn-fuzz-corpus-\(getpid()).txt"
  atexit { _ = unlink("\(access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp")/rnn-fuzz-corpus-\(getpid()).txt") }
  return path
}()

/// A small vocabulary, so some inputs load and some hit unknown characters.
private let vocabulary = try! Vocabulary(scalars: Array("\n abcdefghijklmnopqrstuvwxyzé中😀".unicodeScalars))

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzCorpus(_ data: UnsafeRawPointer, _ size: Int) -> CInt {
  let bytes = UnsafeBufferPointer(start: data.assumingMemoryBound(to: UInt8.self), count: size)

  // Differential check of the decoder against the standard library.
  let reference = String(validating: bytes, as: UTF8.self).map { Array($0.unicodeScalars.map(\.value)) }
  let out = UnsafeMutableBufferPointer<Int32>.allocate(capacity: max(size, 1))
  defer { out.deallocate() }
  switch decodeUTF8(bytes, into: out) {
  case .success(let count):
    let decoded = out[..<count].map { UInt32(bitPattern: $0) }
    precondition(reference == decoded, "decodeUTF8 accepted input and disagrees with the standard library")
  case .failure(let failure):
    precondition(reference == nil, "decodeUTF8 rejected valid UTF-8 at byte \(failure.offset): \(failure.reason)")
    precondition(failure.offset >= 0 && failure.offset < size, "failure offset \(failure.offset) outside the input")
    let valid = String(validating: UnsafeBufferPointer(rebasing: bytes[..<failure.offset]), as: UTF8.self)
    precondition(valid != nil, "decodeUTF8 failed at \(failure.offset) but the bytes before it are not valid UTF-8")
    var position = TextPosition()
    position.advance(over: UnsafeBufferPointer(rebasing: bytes[..<failure.offset]))
  }

  // Where the reader ends a chunk: at most 3 bytes before the end, and never inside a sequence.
  let cut = completeSequencesLength(bytes)
  precondition(cut <= size && cut >= size - 3, "chunk cut \(cut) is not within the last 3 bytes of \(size)")
  precondition(
    reference == nil || String(validating: UnsafeBufferPointer(rebasing: bytes[..<cut]), as: UTF8.self) != nil,
    "the chunk cut \(cut) splits a sequence of valid UTF-8")

  // The public reader, through a real file.
  let fd = open(scratchPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
  precondition(fd >= 0, "cannot create \(scratchPath)")
  var written = 0
  while written < size {
    let n = write(fd, data + written, size - written)
    precondition(n > 0, "cannot write \(scratchPath)")
    written += n
  }
  close(fd)
  // `load` spends ~3 ms under ASan on its 4.4 MB scalar table whatever the input, so each input
  // takes one of the two paths: odd lengths with a vocabulary, even lengths without.
  if size % 2 == 0 {
    if let corpus = try? Corpus.load(paths: [scratchPath]) {
      precondition(corpus.text.allSatisfy { $0 >= 0 && Int($0) < corpus.vocabulary.count }, "id outside the vocabulary")
      precondition(corpus.text.count == reference?.count, "load accepted what the standard library rejects")
      precondition(corpus.vocabulary.decode(corpus.text) == String(decoding: bytes, as: UTF8.self), "text changed")
    }
  } else if let corpus = try? Corpus.load(paths: [scratchPath], vocabulary: vocabulary) {
    precondition(corpus.text.allSatisfy { $0 >= 0 && Int($0) < vocabulary.count }, "id outside the vocabulary")
    precondition(vocabulary.decode(corpus.text) == String(decoding: bytes, as: UTF8.self), "text changed")
  }
  return 0
}
