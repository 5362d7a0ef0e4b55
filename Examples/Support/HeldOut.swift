import RNN

/// `items` shuffled with `generator` and split: `fraction` of them (rounded, at least one when
/// there are two or more) held out, the rest for training.
func heldOutSplit<Item>(_ items: [Item], fraction: Double, using generator: inout RandomGenerator)
  -> (train: [Item], heldOut: [Item])
{
  let shuffled = items.shuffled(using: &generator)
  let count = items.count < 2 ? 0 : max(1, Int((Double(items.count) * fraction).rounded()))
  return (Array(shuffled.dropFirst(count)), Array(shuffled.prefix(count)))
}
