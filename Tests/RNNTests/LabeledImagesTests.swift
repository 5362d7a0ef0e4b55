import Foundation
import XCTest

@testable import Examples
@testable import RNN

final class LabeledImagesTests: FolderTestCase {
  func testCSVReadsSquareImagesScaledByTheLargestPixel() throws {
    let path = try write("d.csv", Array("p0,p1,p2,p3,label\n0,4,8,16,3\n\n16,0,0,2,1\r\n".utf8))
    let images = try LabeledImages.readCSV(path)
    XCTAssertEqual([images.rows, images.columns, images.count, images.classes], [2, 2, 2, 4])
    XCTAssertEqual(images.labels, [3, 1])
    XCTAssertEqual(images.pixels, [0, 0.25, 0.5, 1, 1, 0, 0, 0.125])
  }

  func testCSVRowWidthAndErrors() throws {
    let wide = try write("w.csv", Array("1,2,3,4,5,6,0\n".utf8))
    XCTAssertEqual(try LabeledImages.readCSV(wide, columns: 3).rows, 2)
    XCTAssertThrowsError(try LabeledImages.readCSV(wide)) {
      XCTAssertTrue("\($0)".contains("6 pixels do not make a square image"), "\($0)")
    }
    let cases: [(String, String)] = [
      ("1,2,3,4,0\n1,2,3,0\n", "b.csv:2: 3 pixels where the lines before have 4"),
      ("1,2,3,4,0\n1,2,3,4,1.5\n", "b.csv:2: label 1.5 is not a class number"),
      ("1,2,3,4,0\n1,,3,4,1\n", "b.csv:2: field 2 is not a number: \"\""),
      ("7\n", "b.csv:1: needs pixels and a label, has 1 field"),
      ("\n\n", "b.csv: no images in the file"),
    ]
    for (text, message) in cases {
      let path = try write("b.csv", Array(text.utf8))
      XCTAssertThrowsError(try LabeledImages.readCSV(path), text) { XCTAssertEqual("\($0)", "\(folder!)/\(message)") }
    }
    XCTAssertThrowsError(try LabeledImages.readCSV(folder + "/none.csv")) {
      XCTAssertEqual("\($0)", "\(folder!)/none.csv: cannot read: No such file or directory")
    }
  }

  /// An IDX pair of `n` images of 2 x 3 pixels, pixel `k` of image `i` being `10 * i + k`.
  private func idxPair(_ n: Int, labels: Int? = nil) -> (images: [UInt8], labels: [UInt8]) {
    let images: [UInt8] = [0, 0, 8, 3, 0, 0, 0, UInt8(n), 0, 0, 0, 2, 0, 0, 0, 3] + (0..<n).flatMap { i in (0..<6).map { UInt8(10 * i + $0) } }
    let count = labels ?? n
    return (images, [0, 0, 8, 1, 0, 0, 0, UInt8(count)] + (0..<count).map { UInt8($0 % 10) })
  }

  func testIDXReadsImagesAndLabelsPlainAndGzipped() throws {
    let (imageBytes, labelBytes) = idxPair(3)
    let images = try write("i.idx", imageBytes)
    let labels = try write("l.idx", labelBytes)
    let read = try LabeledImages.readIDX(images: images, labels: labels)
    XCTAssertEqual([read.rows, read.columns, read.count], [2, 3, 3])
    XCTAssertEqual(read.labels, [0, 1, 2])
    XCTAssertEqual(read.pixels[6..<12].map { ($0 * 255).rounded() }, [10, 11, 12, 13, 14, 15])

    let gzip = Process()
    gzip.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    gzip.arguments = ["gzip", "-k", images, labels]
    try gzip.run()
    gzip.waitUntilExit()
    XCTAssertEqual(try LabeledImages.readIDX(images: images + ".gz", labels: labels + ".gz"), read)
  }

  func testIDXErrorsNameTheProblem() throws {
    let (imageBytes, labelBytes) = idxPair(3)
    let labels = try write("l.idx", labelBytes)
    let cases: [([UInt8], String)] = [
      (Array(imageBytes.prefix(10)), "10 bytes, shorter than its header"),
      ([0, 0, 9] + imageBytes.dropFirst(3), "magic number does not say unsigned bytes"),
      (labelBytes, "1 dimensions where 3 are expected"),
      (imageBytes.dropLast(), "header says 3 x 2 x 3 bytes but 17 follow it"),
    ]
    for (bytes, reason) in cases {
      let images = try write("i.idx", bytes)
      XCTAssertThrowsError(try LabeledImages.readIDX(images: images, labels: labels), reason) {
        XCTAssertEqual("\($0)", "\(images): not an MNIST IDX file: \(reason)")
      }
    }
    let images = try write("i.idx", imageBytes)
    let fewer = try write("f.idx", idxPair(3, labels: 2).labels)
    XCTAssertThrowsError(try LabeledImages.readIDX(images: images, labels: fewer)) {
      XCTAssertEqual($0 as? ImageDataError, .countMismatch(images: 3, labels: 2))
    }
    let notGzip = try write("x.gz", [1, 2, 3])
    XCTAssertThrowsError(try LabeledImages.readIDX(images: notGzip, labels: labels)) {
      XCTAssertTrue("\($0)".hasPrefix("\(notGzip): cannot read: gzip cannot decompress it"), "\($0)")
    }
  }

  func testRowsAreTimeMajorSequencesAndSplitIsASeededPartition() {
    let images = LabeledImages(rows: 2, columns: 2, pixels: (0..<12).map(Float.init), labels: [0, 1, 2])
    XCTAssertEqual(images.rows(of: [2, 0]), Tensor(shape: [2, 2, 2], scalars: [8, 9, 0, 1, 10, 11, 2, 3]))
    XCTAssertEqual(images.vectors(of: [1]), Tensor(shape: [1, 4], scalars: [4, 5, 6, 7]))
    var generator = RandomGenerator(seed: 5)
    let (training, heldOut) = images.split(trainingFraction: 0.67, using: &generator)
    XCTAssertEqual(training.count, 2)
    XCTAssertEqual(Set(training.labels + heldOut.labels), [0, 1, 2])
    for (n, label) in (training.labels + heldOut.labels).enumerated() {
      let source = training.count > n ? training : heldOut
      let row = training.count > n ? n : n - training.count
      XCTAssertEqual(source.vectors(of: [row]), images.vectors(of: [Int(label)]))
    }
  }
}
