import Foundation
import RNN

#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#elseif canImport(Darwin)
  import Darwin
#endif

/// The bytes of the file at `path`; a name ending in `.gz` is decompressed with `gzip -dc`.
func readDataFile(_ path: String) throws -> [UInt8] {
  if path.hasSuffix(".gz") { return try gunzip(path) }
  guard let file = fopen(path, "rb") else {
    throw ImageDataError.unreadable(path: path, reason: String(cString: strerror(errno)))
  }
  defer { fclose(file) }
  var bytes: [UInt8] = []
  var chunk = [UInt8](repeating: 0, count: 1 << 16)
  while true {
    let n = fread(&chunk, 1, chunk.count, file)
    bytes += chunk[..<n]
    if n < chunk.count { break }
  }
  if ferror(file) != 0 { throw ImageDataError.unreadable(path: path, reason: String(cString: strerror(errno))) }
  return bytes
}

private func gunzip(_ path: String) throws -> [UInt8] {
  guard FileManager.default.isReadableFile(atPath: path) else {
    let exists = FileManager.default.fileExists(atPath: path)
    throw ImageDataError.unreadable(path: path, reason: exists ? "permission denied" : "no such file")
  }
  let searchPath = (ProcessInfo.processInfo.environment["PATH"] ?? "") + ":/usr/bin:/bin"
  guard let gzip = ChildProcess(firstOf: ["gzip"], searchPath: searchPath),
    let result = try? gzip.run(["-dc", "--", path])
  else {
    throw ImageDataError.unreadable(path: path, reason: "cannot run gzip to decompress it")
  }
  guard result.exitStatus == 0 else {
    throw ImageDataError.unreadable(path: path, reason: "gzip cannot decompress it (\(result.ending))")
  }
  return result.output
}
