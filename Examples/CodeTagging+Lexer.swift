extension CodeTagging {
  /// What a character of C source is part of.
  enum Label: Int32, CaseIterable {
    /// Anything outside comments and literals, including whitespace and preprocessor lines.
    case code
    /// A `// ...` or `/* ... */` comment, its markers included.
    case comment
    /// A string literal `"..."` or a character literal `'...'`, its quotes included.
    case string
  }

  /// Labels each character of C source `text` (one label per character, in order): `//` comments
  /// run to the end of the line (a backslash right before the newline continues them, as C
  /// splices lines); `/* */` comments run to the first `*/` after the `/*`, or to the end of the
  /// text; string and character literals run to the matching unescaped quote (a backslash escapes
  /// the next character), or stop before a newline when unterminated. The newline ending a `//`
  /// comment is code. Each label depends only on the text to its left.
  static func labels(_ text: [Unicode.Scalar]) -> [Label] {
    var labels = [Label](repeating: .code, count: text.count)
    func next(_ i: Int) -> Unicode.Scalar? { i + 1 < text.count ? text[i + 1] : nil }
    var i = 0
    while i < text.count {
      var end = i + 1
      var label = Label.code
      if text[i] == "/" && next(i) == "/" {
        label = .comment
        end = i + 2
        while end < text.count && text[end] != "\n" { end += text[end] == "\\" && next(end) == "\n" ? 2 : 1 }
      } else if text[i] == "/" && next(i) == "*" {
        label = .comment
        end = i + 2
        while end < text.count && !(text[end] == "*" && next(end) == "/") { end += 1 }
        end += 2
      } else if text[i] == "\"" || text[i] == "'" {
        label = .string
        while end < text.count && text[end] != text[i] && text[end] != "\n" { end += text[end] == "\\" ? 2 : 1 }
        if end < text.count && text[end] == text[i] { end += 1 }
      }
      end = min(end, text.count)
      for k in i..<end { labels[k] = label }
      i = end
    }
    return labels
  }
}
