// libFuzzer target: `Vocabulary(jsonArray:)`, the JSON array reader used for checkpoints'
// `"vocabulary"` metadata. What it accepts must survive `jsonArray` and back unchanged.
// Build and run with `Scripts/fuzz vocabulary [SECONDS]`.

@testable import RNN

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzVocabulary(_ data: UnsafeRawPointer, _ size: Int) -> CInt {
  let text = String(decoding: UnsafeRawBufferPointer(start: data, count: size), as: UTF8.self)
  guard let vocabulary = try? Vocabulary(jsonArray: text) else { return 0 }
  let again = try? Vocabulary(jsonArray: vocabulary.jsonArray)
  precondition(again == vocabulary, "vocabulary JSON round trip changed the scalars")
  for (id, scalar) in vocabulary.scalars.enumerated() {
    precondition(vocabulary.id(of: scalar) == Int32(id), "id(of:) disagrees with the scalar list")
  }
  return 0
}
