/// A simple property of source text, measured after each character, that a neuron may track.
///
/// Each value describes the state *after* reading the character at that position, as the model's
/// state does: an opening `"` is inside the string, the closing one is outside again.
public enum TextProperty: String, CaseIterable, Sendable {
  /// 1 inside a string literal (from the opening `"` to before the closing one; `\"` does not
  /// close it), else 0. Quotes inside comments do not count.
  case insideString = "inside a string"
  /// Open brackets `(`, `[`, `{` minus closing ones, counted from the start of the text, outside
  /// strings and comments.
  case bracketDepth = "bracket depth"
  /// Characters since the last newline (0 right after a newline).
  case linePosition = "position in the line"
  /// 1 inside a comment: from the second `/` of `//` to before the newline, and from the `*` of
  /// `/*` to before the `/` of `*/`; else 0. Comment markers inside strings do not count.
  case insideComment = "inside a comment"

  /// The property after each scalar of `text` (`[T]`).
  public func values(of text: [Unicode.Scalar]) -> [Double] {
    TextProperties(text).values(of: self)
  }
}

/// All `TextProperty` values of one text, computed in one pass of a small lexer.
public struct TextProperties: Sendable {
  public let insideString: [Double]
  public let bracketDepth: [Double]
  public let linePosition: [Double]
  public let insideComment: [Double]

  public init(_ text: [Unicode.Scalar]) {
    enum Mode { case code, string, lineComment, blockComment }
    var mode = Mode.code
    var escaped = false  // the previous scalar in a string was an unescaped backslash
    var depth = 0
    var column = 0
    var string = [Double]()
    var brackets = [Double]()
    var columns = [Double]()
    var comment = [Double]()
    for capacity in [text.count] {
      string.reserveCapacity(capacity)
      brackets.reserveCapacity(capacity)
      columns.reserveCapacity(capacity)
      comment.reserveCapacity(capacity)
    }
    for (i, scalar) in text.enumerated() {
      let previous: Unicode.Scalar? = i > 0 ? text[i - 1] : nil
      switch mode {
      case .code:
        switch scalar {
        case "\"": mode = .string
        case "/" where previous == "/": mode = .lineComment
        case "*" where previous == "/": mode = .blockComment
        case "(", "[", "{": depth += 1
        case ")", "]", "}": depth -= 1
        default: break
        }
      case .string:
        if escaped {
          escaped = false
        } else if scalar == "\\" {
          escaped = true
        } else if scalar == "\"" || scalar == "\n" {
          mode = .code  // a newline ends a (single-line) literal that was never closed
        }
      case .lineComment:
        if scalar == "\n" { mode = .code }
      case .blockComment:
        if scalar == "/" && previous == "*" { mode = .code }
      }
      column = scalar == "\n" ? 0 : column + 1
      string.append(mode == .string ? 1 : 0)
      comment.append(mode == .lineComment || mode == .blockComment ? 1 : 0)
      brackets.append(Double(depth))
      columns.append(Double(column))
    }
    insideString = string
    bracketDepth = brackets
    linePosition = columns
    insideComment = comment
  }

  public func values(of property: TextProperty) -> [Double] {
    switch property {
    case .insideString: insideString
    case .bracketDepth: bracketDepth
    case .linePosition: linePosition
    case .insideComment: insideComment
    }
  }
}
