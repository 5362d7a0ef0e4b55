// The files hold the core's types (models, optimizers, states): `import RNNData` gives them too.
@_exported import RNNCore
