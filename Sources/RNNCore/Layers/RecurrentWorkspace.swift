import Synchronization

/// Floats owned by a `RecurrentWorkspace`, lent to one call and its cache: a raw pointer the time
/// loops use directly, valid while the buffer is referenced.
public final class WorkspaceBuffer: @unchecked Sendable {
  /// The first of `capacity` floats (uninitialised until a loop writes them).
  public let pointer: UnsafeMutablePointer<Float>
  public let capacity: Int

  init(capacity: Int) {
    self.capacity = capacity
    pointer = .allocate(capacity: max(capacity, 1))
  }

  deinit { pointer.deallocate() }

  /// The first `count` floats as a tensor of `shape` (a copy).
  public func tensor(_ shape: [Int]) -> Tensor {
    Tensor(shape: shape) { $0.update(from: pointer, count: shape.reduce(1, *)) }
  }
}

/// The buffers of one recurrent layer, kept from call to call as torch-rnn's layers keep theirs:
/// each named slot holds one `WorkspaceBuffer`, allocated once for the largest shape it has seen.
///
/// A call takes a slot's buffer for its own (`buffer(_:count:)`), and its cache keeps it until
/// backward has read it; the next call gets the same memory back once that cache is gone (a
/// training step drops its tape, and with it every cache, before the next one starts). While a
/// buffer is still referenced elsewhere (a cache kept across calls, another thread's call through a
/// copy of the layer), the slot gets a fresh one instead: a buffer is never written while someone
/// may still read it, and never copied.
public final class RecurrentWorkspace: Sendable {
  private let slots = Mutex<[String: WorkspaceBuffer]>([:])

  public init() {}

  /// The buffer of `slot`, at least `count` floats, referenced by nobody else.
  public func buffer(_ slot: String, count: Int) -> WorkspaceBuffer {
    slots.withLock { slots in
      if slots[slot] != nil, isKnownUniquelyReferenced(&slots[slot]!), slots[slot]!.capacity >= count {
        return slots[slot]!
      }
      let fresh = WorkspaceBuffer(capacity: count)
      slots[slot] = fresh
      return fresh
    }
  }

  /// The buffer of `slot` holding a copy of `tensor`.
  func buffer(_ slot: String, copying tensor: Tensor) -> WorkspaceBuffer {
    let buffer = buffer(slot, count: tensor.count)
    tensor.withPointer { buffer.pointer.update(from: $0, count: tensor.count) }
    return buffer
  }

  /// Where the buffer `slot` holds now is, without taking it (nil: none yet).
  func address(_ slot: String) -> UnsafeMutablePointer<Float>? { slots.withLock { $0[slot]?.pointer } }

  /// The floats the slots hold now.
  public var footprint: Int { slots.withLock { $0.values.reduce(0) { $0 + $1.capacity } } }
}
