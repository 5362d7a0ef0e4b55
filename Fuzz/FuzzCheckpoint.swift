// libFuzzer target: the checkpoint reader.
//
// Each input is a whole `.safetensors` file. It goes through `SafeTensors(decoding:)` and, when
// that succeeds, `Checkpoint(_:path:)` (metadata, vocabulary, config and tensor shapes). Both may
// throw; anything else (a trap, an ASan report, a leak, a timeout) is a bug. A file that decodes
// must also encode back to bytes that decode to an equal value.
// Build and run with `Scripts/fuzz checkpoint [SECONDS]`.

#if canImport(Glibc)
  import Glibc
#endif
@testable import RNN

/// With `FUZZ_VERBOSE=1` in the environment, each input's outcome is printed (for triage).
private let verbose = getenv("FUZZ_VERBOSE") != nil

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzCheckpoint(_ data: UnsafeRawPointer, _ size: Int) -> CInt {
  let bytes = [UInt8](UnsafeRawBufferPointer(start: data, count: size))
  let file: SafeTensors
  do { file = try SafeTensors(decoding: bytes) } catch {
    if verbose { print("safetensors: \(error)") }
    return 0
  }
  // Round trip: what the reader accepts, the writer writes back and the reader reads the same.
  if (try? file.validateForWriting()) != nil {
    let again = try? SafeTensors(decoding: file.encoded())
    precondition(again == file, "safetensors round trip changed the contents")
  }
  do {
    let checkpoint = try Checkpoint(file, path: "fuzz.safetensors")
    if verbose { print("checkpoint: \(checkpoint.model.config), step \(checkpoint.step)") }
  } catch {
    if verbose { print("checkpoint: \(error)") }
  }
  return 0
}
