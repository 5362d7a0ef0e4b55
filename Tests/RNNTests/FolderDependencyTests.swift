import Foundation
import XCTest

/// The library's folders depend on each other without cycles (ARCHITECTURE.md lists them): a
/// folder uses another when its code (comments aside) names a type or function that the other
/// declares at the top level.
final class FolderDependencyTests: XCTestCase {
  private let library = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("Sources/RNN")

  func testNoCycleBetweenTheLibrarysFolders() throws {
    let folders = try FileManager.default.contentsOfDirectory(atPath: library.path).sorted()
    var code: [String: String] = [:]
    var declared: [String: Set<String>] = [:]
    let declaration = try NSRegularExpression(
      pattern: #"^(?:(?:public|package|final|@\w+) )*(?:struct|class|enum|protocol|typealias|actor|func) (\w{4,})"#,
      options: .anchorsMatchLines)
    for folder in folders {
      let files = try FileManager.default.contentsOfDirectory(atPath: library.appendingPathComponent(folder).path)
      let text = try files.filter { $0.hasSuffix(".swift") }.map {
        try String(contentsOf: library.appendingPathComponent(folder).appendingPathComponent($0), encoding: .utf8)
      }.joined(separator: "\n")
      code[folder] = text.replacingOccurrences(of: #"//[^\n]*"#, with: "", options: .regularExpression)
      declared[folder] = Set(
        declaration.matches(in: text, range: NSRange(text.startIndex..., in: text)).map {
          String(text[Range($0.range(at: 1), in: text)!])
        })
    }
    // Edges, each with a name that makes it.
    var uses: [String: [String: String]] = [:]
    for user in folders {
      for owner in folders where owner != user {
        if let name = declared[owner]!.sorted().first(where: { code[user]!.range(of: #"\b\#($0)\b"#, options: .regularExpression) != nil }) {
          uses[user, default: [:]][owner] = name
        }
      }
    }
    // A depth-first search; a folder met again on the current path closes a cycle.
    var done = Set<String>()
    var path: [String] = []
    func visit(_ folder: String) {
      if let start = path.firstIndex(of: folder) {
        let cycle = path[start...] + [folder]
        let steps = zip(cycle, cycle.dropFirst()).map { "\($0) -> \($1) (\(uses[$0]![$1]!))" }
        XCTFail("a cycle between folders: " + steps.joined(separator: ", "))
        return
      }
      guard !done.contains(folder) else { return }
      path.append(folder)
      for next in (uses[folder] ?? [:]).keys.sorted() { visit(next) }
      path.removeLast()
      done.insert(folder)
    }
    for folder in folders { visit(folder) }
    XCTAssertGreaterThan(folders.count, 10, "the library's folders were found")
  }
}
