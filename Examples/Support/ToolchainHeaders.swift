import Foundation
import RNN

/// The C headers that ship with a Swift toolchain: clang's resource headers in
/// `<usr>/lib/clang/<version>/include` (`stddef.h`, `stdatomic.h`, the compiler intrinsics, ...),
/// real C by many authors, available without a download.
public enum ToolchainHeaders {
  /// The `.h` files directly in the clang resource `include` folder of the first toolchain that
  /// has one, sorted by name; the newest clang version if there are several. Toolchains are
  /// searched as for `BuiltInCorpus.swiftStandardLibrary`: `swift` on `PATH`, `SWIFT_TOOLCHAIN`,
  /// then `/opt/swift/usr` and `/usr`.
  public static func locate(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> [String] {
    try locate(environment: environment, commonPlaces: ["/opt/swift/usr", "/usr"])
  }

  static func locate(environment: [String: String], commonPlaces: [String]) throws -> [String] {
    let fileManager = FileManager.default
    var searched: [String] = []
    for usr in BuiltInCorpus.toolchainCandidates(environment: environment, commonPlaces: commonPlaces)
    where !searched.contains(usr) {
      searched.append(usr)
      let clang = usr + "/lib/clang"
      let versions = (try? fileManager.contentsOfDirectory(atPath: clang)) ?? []
      for version in versions.sorted(by: { $0.compare($1, options: .numeric) == .orderedDescending }) {
        let include = clang + "/" + version + "/include"
        let names = (try? fileManager.contentsOfDirectory(atPath: include)) ?? []
        let headers = names.filter { $0.hasSuffix(".h") && !$0.hasPrefix(".") }
          .sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
          .map { include + "/" + $0 }
          .filter { fileManager.isReadableFile(atPath: $0) }
        if !headers.isEmpty { return headers }
      }
    }
    throw ToolchainHeadersError.notFound(searched: searched)
  }
}

/// Errors from locating the toolchain's C headers.
public enum ToolchainHeadersError: Error, Equatable, Sendable, CustomStringConvertible {
  /// No toolchain in `searched` (`usr` folders) has `.h` files in `lib/clang/<version>/include`.
  case notFound(searched: [String])

  public var description: String {
    switch self {
    case .notFound(let searched):
      return "cannot find the toolchain's C headers (lib/clang/<version>/include/*.h under "
        + (searched.isEmpty ? "nothing" : searched.joined(separator: ", "))
        + "); put the toolchain's swift on PATH or set SWIFT_TOOLCHAIN"
    }
  }
}
