/// Stops the program with `message` when `condition` is false: for misuse of the API that is a
/// programming error (a shape or a token id that does not fit). Unlike `precondition`, whose
/// message `swift build -c release` drops (it prints only "precondition failure"), the message
/// survives release builds.
@inlinable @inline(__always)
package func require(
  _ condition: @autoclosure () -> Bool, _ message: @autoclosure () -> String, file: StaticString = #fileID,
  line: UInt = #line
) {
  if _slowPath(!condition()) { fatalError(message(), file: file, line: line) }
}
