import Foundation
import XCTest

/// The library's folders depend on each other without cycles, and its targets only downward
/// (ARCHITECTURE.md lists both): a folder uses another when its code (comments aside) names a
/// type or function that the other declares at the top level.
final class FolderDependencyTests: XCTestCase {
  /// The library's targets, from the bottom up: each may use those before it only.
  private let targets = ["RNNCore", "RNNData", "RNN"]
  private let sources = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("Sources")

  /// Each folder of the library's targets, as `Target/Folder`, and which others it uses, each with
  /// a name that makes the edge.
  private func uses() throws -> (folders: [String], uses: [String: [String: String]]) {
    var folders: [String] = []
    for target in targets {
      let root = sources.appendingPathComponent(target)
      for name in try FileManager.default.contentsOfDirectory(atPath: root.path).sorted() {
        var isFolder: ObjCBool = false
        let path = root.appendingPathComponent(name).path
        if FileManager.default.fileExists(atPath: path, isDirectory: &isFolder), isFolder.boolValue,
          !name.hasSuffix(".docc")
        {
          folders.append(target + "/" + name)
        }
      }
    }
    var code: [String: String] = [:]
    var declared: [String: Set<String>] = [:]
    let declaration = try NSRegularExpression(
      pattern: #"^(?:(?:public|package|final|@\w+) )*(?:struct|class|enum|protocol|typealias|actor|func) (\w{4,})"#,
      options: .anchorsMatchLines)
    for folder in folders {
      let url = sources.appendingPathComponent(folder)
      let files = try FileManager.default.contentsOfDirectory(atPath: url.path)
      let text = try files.filter { $0.hasSuffix(".swift") }.map {
        try String(contentsOf: url.appendingPathComponent($0), encoding: .utf8)
      }.joined(separator: "\n")
      code[folder] = text.replacingOccurrences(of: #"//[^\n]*"#, with: "", options: .regularExpression)
      declared[folder] = Set(
        declaration.matches(in: text, range: NSRange(text.startIndex..., in: text)).map {
          String(text[Range($0.range(at: 1), in: text)!])
        })
    }
    var uses: [String: [String: String]] = [:]
    for user in folders {
      for owner in folders where owner != user {
        if let name = declared[owner]!.sorted().first(where: { code[user]!.range(of: #"\b\#($0)\b"#, options: .regularExpression) != nil }) {
          uses[user, default: [:]][owner] = name
        }
      }
    }
    return (folders, uses)
  }

  func testNoCycleBetweenTheLibrarysFolders() throws {
    let (folders, uses) = try uses()
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

  func testTheLibrarysTargetsDependOnlyDownward() throws {
    let (folders, uses) = try uses()
    func level(_ folder: String) -> Int { targets.firstIndex(of: String(folder.prefix { $0 != "/" }))! }
    for user in folders {
      for (owner, name) in uses[user] ?? [:] where level(owner) > level(user) {
        XCTFail("\(user) uses \(owner) (\(name)), a folder of a target above it")
      }
    }
    for target in targets {
      XCTAssertTrue(folders.contains { $0.hasPrefix(target + "/") }, "\(target) has folders")
    }
  }
}
