// swift-tools-version: 6.0
import PackageDescription

let package = Package(
  name: "swift-rnn",
  products: [
    .library(name: "RNN", targets: ["RNN"]),
    .executable(name: "rnn", targets: ["rnn"]),
  ],
  dependencies: [
    .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    // `swift package generate-documentation`: the library's DocC documentation.
    .package(url: "https://github.com/swiftlang/swift-docc-plugin", from: "1.4.0"),
  ],
  targets: [
    // MARK: C shim: BLAS binding (loaded at run time) and vectorised pointwise kernels
    .target(
      name: "CKernels",
      linkerSettings: [.linkedLibrary("m"), .linkedLibrary("dl")]
    ),
    // MARK: C shim: running a child program through pipes, killed when its parent ends
    .target(name: "CProcess"),
    // MARK: Library, bottom: tensors, autograd, layers, losses, optimizers, models, sampling, the GPU path
    .target(name: "RNNCore", dependencies: ["CKernels"]),
    // MARK: Library, files: JSON, text and corpora, safetensors, checkpoints, run folders, child processes
    .target(name: "RNNData", dependencies: ["RNNCore", "CProcess"]),
    // MARK: Library, top: the trainer (and MPI), training runs, analysis; re-exports RNNCore, RNNData
    .target(name: "RNN", dependencies: ["RNNCore", "RNNData"]),
    // MARK: Examples: the RNN taxonomy on real tasks (`rnn example NAME`)
    .target(name: "Examples", dependencies: ["RNN"], path: "Examples"),
    // MARK: Command line
    .executableTarget(
      name: "rnn",
      dependencies: ["RNN", "Examples", .product(name: "ArgumentParser", package: "swift-argument-parser")]
    ),
    // MARK: Tests
    .testTarget(
      name: "RNNTests",
      dependencies: ["RNNCore", "RNNData", "RNN", "Examples", "rnn"],
      exclude: ["Fixtures"]
    ),
  ]
)
