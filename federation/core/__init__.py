"""PressTrust's federated-learning core: a pure library (numpy, scipy, PyTorch, cryptography, opacus;
no Django). Modules are imported explicitly, so that light users (e.g. envelope checks) do not pay for
PyTorch:

- ``specs``: model specs (MLP, 1-D CNN) that serialise to JSON-able dicts; weights as numpy arrays;
- ``training``: deterministic local training, prediction and evaluation with PyTorch on the CPU;
- ``metrics``: loss, accuracy, AUC, F1, KS, confusion matrix (binary and macro multi-class);
- ``fedma``: BBP-MAP neuron matching (``match_layer``), one-shot network matching
  (``match_networks``), layer remapping and the class-share-weighted output layer;
- ``strategies``: FedAvg, RobustFedAvg, FedMA (layer-wise, with communication), OneShotMatching
  behind one ``Strategy`` interface; ``messages``: what travels between aggregator and participant;
- ``client``: a participant's step; ``simulation``: a whole task in one process;
- ``robust``: norm checks, coordinate-wise median / trimmed mean, matched-neuron outlier rejection;
- ``privacy``: clipping + Gaussian noise of updates, (epsilon, delta) from opacus' RDP accountant;
- ``envelope``: versioned no-pickle serialisation, Ed25519 signature, X25519/HKDF/AES-GCM encryption;
- ``datasets``: CWRU bearing health features and federated splits for tests and benchmarks.
"""
