/// Minibatches of `size` indices of `0 ..< count`, in an order reshuffled every epoch, endlessly,
/// for data of any kind (rows of a tensor, images, pairs of sequences), as PyTorch's
/// `DataLoader(dataset, batch_size: size, shuffle: true, drop_last: true)` samples indices.
///
///     var batches = Minibatches(count: images.count, size: 32)
///     let rows = images.rows(of: batches.next(using: &generator))   // [R,32,C]
public struct Minibatches: Sendable {
  /// The number of items, `N`.
  public let count: Int
  /// Indices per minibatch (at most `N`).
  public let size: Int
  private var order: [Int] = []
  private var position = 0

  /// Minibatches of `size` indices of `0 ..< count`.
  public init(count: Int, size: Int) {
    require(count > 0 && size > 0, "minibatches of \(size) from \(count) items")
    self.count = count
    self.size = min(size, count)
  }

  /// The next minibatch (a full one: an epoch's last partial one is dropped).
  public mutating func next(using generator: inout RandomGenerator) -> [Int] {
    if position + size > order.count {
      order = Array(0..<count).shuffled(using: &generator)
      position = 0
    }
    defer { position += size }
    return Array(order[position..<position + size])
  }
}
