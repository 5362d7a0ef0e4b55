// libFuzzer target: the checkpoint reader.
//
// Each input is a whole `.safetensors` file. It goes through `SafeTensors(decoding:)` and, when
// that succeeds, `Checkpoint(_:path:)` (metadata, vocabulary, config and tensor shapes). Both may
// throw; anything else (a trap, an ASan report, a leak, a timeout) is a bug. A file that decodes
// must also encode back to bytes that decode to an equal value.
// Build and run with `Scripts/fuzz checkpoint [SECONDS]`.

@testable import RNN

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzCheckpoint(_ data: UnsafeRawPointer, _ size: Int) -> CInt {
  let bytes = [UInt8](UnsafeRawBufferPointer(start: data, count: size))
  guard let file = try? SafeTensors(decoding: bytes) else { return 0 }
  // Round trip: what the reader accepts, the writer writes back and the reader reads the same.
  if (try? file.validateForWriting()) != nil {
    let again = try? SafeTensors(decoding: file.encoded())
    precondition(again == file, "safetensors round trip changed the contents")
  }
  _ = try? Checkpoint(file, path: "fuzz.safetensors")
  return 0
}
