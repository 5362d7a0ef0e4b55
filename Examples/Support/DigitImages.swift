import Foundation
import RNN

/// The handwritten digits the digit examples read: the `--data` files (one CSV file, or MNIST's
/// IDX images and labels files), else scikit-learn's 8x8 digits (`digits.csv.gz`, 1,797 images
/// from 43 writers) from an installed scikit-learn: Debian's `python3-sklearn` or pip's `scikit-learn`.
enum DigitImages {
  static func load(_ data: [String]) throws -> LabeledImages {
    switch data.count {
    case 0: try LabeledImages.readCSV(locateScikitLearnDigits())
    case 1: try LabeledImages.readCSV(data[0])
    case 2: try LabeledImages.readIDX(images: data[0], labels: data[1])
    default: throw ExampleError.tooManyDataFiles(data.count)
    }
  }

  /// The images of `data` split for an example: a seeded 80% to train on (500 of them when
  /// `quick`), the other 20% held out.
  static func split(_ settings: ExampleSettings, using generator: inout RandomGenerator, log: (String) -> Void) throws
    -> (training: LabeledImages, heldOut: LabeledImages)
  {
    let images = try load(settings.data)
    var (training, heldOut) = images.split(trainingFraction: 0.8, using: &generator)
    if settings.quick { training = training.subset(0..<min(training.count, 500)) }
    log("\(images.count) images of \(images.rows)x\(images.columns): \(training.count) to train on, \(heldOut.count) held out")
    return (training, heldOut)
  }

  /// Where scikit-learn keeps the digits, relative to a `site-packages` or `dist-packages` folder.
  static let relativePath = "sklearn/datasets/data/digits.csv.gz"

  /// The path of `digits.csv.gz` in the first scikit-learn found: Debian's package folders, then
  /// the `sklearn` that `python3` imports.
  static func locateScikitLearnDigits() throws -> String {
    var folders = ["/usr/lib/python3/dist-packages"]
    let local = "/usr/local/lib"
    for name in (try? FileManager.default.contentsOfDirectory(atPath: local))?.sorted() ?? [] where name.hasPrefix("python3") {
      folders += ["\(local)/\(name)/dist-packages", "\(local)/\(name)/site-packages"]
    }
    // Python only when the fixed folders have no digits: importing scikit-learn takes a second.
    if let path = digits(in: folders) { return path }
    if let imported = pythonSitePackages() {
      folders.append(imported)
      if let path = digits(in: [imported]) { return path }
    }
    throw ExampleError.digitsNotFound(searched: folders)
  }

  /// The digits file under the first of `folders` that has a readable one.
  private static func digits(in folders: [String]) -> String? {
    folders.lazy.map { "\($0)/\(relativePath)" }.first { FileManager.default.isReadableFile(atPath: $0) }
  }

  /// The folder holding the `sklearn` package that `python3` on the `PATH` imports, if any.
  private static func pythonSitePackages() -> String? {
    let searchPath = ProcessInfo.processInfo.environment["PATH"] ?? ""
    let script = "import os, sklearn; print(os.path.dirname(os.path.dirname(sklearn.__file__)))"
    guard let python = ChildProcess(firstOf: ["python3"], searchPath: searchPath),
      let result = try? python.run(["-c", script]), result.exitStatus == 0
    else { return nil }
    return String(decoding: result.output, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
  }
}

/// Errors of the examples that read data. Each `description` is one line saying what to do.
public enum ExampleError: Error, Equatable, Sendable, CustomStringConvertible {
  /// No scikit-learn with its digits in `searched`.
  case digitsNotFound(searched: [String])
  /// `--data` has more than the two files of MNIST's IDX format.
  case tooManyDataFiles(Int)
  /// The images have labels beyond the ten digits.
  case notDigits(classes: Int)

  public var description: String {
    switch self {
    case .digitsNotFound(let searched):
      "cannot find scikit-learn's digits (\(DigitImages.relativePath) under \(searched.joined(separator: ", "))); "
        + "install them (apt-get install python3-sklearn, or pip install scikit-learn) or pass --data FILE.csv or --data IMAGES LABELS (MNIST IDX)"
    case .tooManyDataFiles(let count):
      "--data takes one CSV file or two MNIST IDX files (images, labels), not \(count) files"
    case .notDigits(let classes):
      "the labels go up to \(classes - 1); digit names need labels 0 to 9"
    }
  }
}
