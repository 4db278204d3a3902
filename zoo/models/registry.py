"""Model registry: `get_model(name, **config)` and `list_models()`."""
import importlib

from zoo.errors import ConfigError

# name -> (module, class, one-line description)
MODELS = {
    "simple_rnn": ("zoo.models.simple_rnn", "SimpleRNN", "Elman RNN: h = tanh(x W + h U + b)"),
    "gru4rec": ("zoo.models.gru4rec", "GRU4Rec", "GRU4Rec (Hidasi et al. 2016/2018): the reference GRU, session-parallel"),
    "gru4rec_concat": ("zoo.models.gru4rec_concat", "GRU4RecConcat",
                       "GRU4Rec over each user's sessions joined into one sequence (HRNN paper's RNN Concat)"),
    "lstm": ("zoo.models.lstm", "LSTM", "LSTM with (h, c) carried and reset per session"),
    "hrnn": ("zoo.models.hrnn", "HRNN", "HRNN (Quadrana et al. 2017): session GRU under a user GRU, user-parallel"),
    "user_gru": ("zoo.models.user_gru", "UserGRU", "user-gated GRU (Donkers et al. 2017): a user embedding in the gates"),
    "pop": ("zoo.baselines.pop", "Pop", "baseline: most popular, items ranked by training count"),
    "spop": ("zoo.baselines.spop", "SPop", "baseline: session popularity, the session's items by count first"),
    "sr": ("zoo.baselines.sr", "SR", "baseline: sequential rules a->b weighted 1/gap (Ludewig & Jannach 2018)"),
    "sknn": ("zoo.baselines.knn", "SKNN", "baseline: session-based kNN, cosine over item sets (Ludewig & Jannach 2018)"),
    "vsknn": ("zoo.baselines.knn", "VSKNN", "baseline: V-SKNN, kNN with linear position decay (Ludewig & Jannach 2018)"),
    "vsknn_e": ("zoo.baselines.session_aware_knn", "SessionAwareVSKNN",
                "baseline: V-SKNN on sessions extended by the user's latest items (Latifi et al. 2021)"),
    "recent_pop": ("zoo.baselines.recent_pop", "RecentPop", "baseline: most clicked in the hours before the session"),
    "fpmc": ("zoo.baselines.fpmc", "FPMC", "baseline: factorized Markov chain + item bias, BPR (Rendle et al. 2010)"),
}
# the non-neural models (zoo.baselines): fitted by `zoo.baselines.fit`, saved as baseline.npz
BASELINES = ("pop", "spop", "sr", "sknn", "vsknn", "vsknn_e", "recent_pop", "fpmc")


def list_models():
    """Names of the models `get_model` builds, with a one-line description each."""
    return {name: description for name, (_, _, description) in MODELS.items()}


def model_class(name):
    if name not in MODELS:
        raise ConfigError(f"unknown model {name!r}; known: {', '.join(MODELS)}")
    module, cls, _ = MODELS[name]
    return getattr(importlib.import_module(module), cls)


def get_model(name, **config):
    """Builds the model `name` (see `list_models()`) from its config, e.g. `n_items`, `layers`.

    Example:

        model = zoo.get_model("gru4rec", n_items=2933, layers=[100], loss="bpr-max", bpreg=0.5)
    """
    cls = model_class(name)
    try:
        return cls(**config)
    except TypeError as e:  # an option the model does not take
        raise ConfigError(f"{name}: {e}") from None
