import Foundation

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
  let process = Process()
  process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
  process.arguments = ["gzip", "-dc", "--", path]
  let output = Pipe()
  process.standardOutput = output
  process.standardError = FileHandle.nullDevice
  do { try process.run() } catch {
    throw ImageDataError.unreadable(path: path, reason: "cannot run gzip to decompress it")
  }
  let data = output.fileHandleForReading.readDataToEndOfFile()
  process.waitUntilExit()
  guard process.terminationStatus == 0 else {
    throw ImageDataError.unreadable(path: path, reason: "gzip cannot decompress it (status \(process.terminationStatus))")
  }
  return [UInt8](data)
}
