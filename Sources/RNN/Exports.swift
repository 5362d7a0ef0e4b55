// `import RNN` gives the whole library: the layers below the training run are their own targets.
@_exported import RNNCore
@_exported import RNNData
