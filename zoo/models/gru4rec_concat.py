"""GRU4Rec over each user's sessions joined into one sequence: the "RNN Concat" baseline of HRNN's
paper (Quadrana et al., RecSys 2017), what a user without a hierarchical model would try first.

The network, loss and training are GRU4Rec's (`zoo.models.gru4rec`); only the data differ. A user's
sessions, in time order, are one sequence s_1 .. s_n of all the user's clicks, and the session-parallel
mini-batches play those sequences: the hidden state h is zeroed at the start of a user, never at a
session start, and the pairs (last click of a session -> first click of the next) are trained too.

Evaluation. Under the user protocol (`zoo.evaluation.evaluate_users`) the user's history and test
events are played as that one sequence, and the ranked events are those every model ranks (each
with an earlier event in its own session), so its figures compare with HRNN's and GRU4Rec's. Under
the session protocol a session is played alone, from zero, as GRU4Rec. `zoo recommend` with
`--history` plays the earlier sessions and the current one as one sequence; a SavedModel client
does the same by carrying the `step` state across the user's sessions.
"""
import keras

from zoo.models.gru4rec import GRU4Rec


@keras.saving.register_keras_serializable(package="zoo")
class GRU4RecConcat(GRU4Rec):
    """GRU4Rec trained on users' joined sessions (see the module docstring).

    Args:
        n_items: catalogue size.
        n_users: the training users (recorded; the network has no user parameter).
        **kwargs: the options of `GRU4Rec`.

    Example:

        model = GRU4RecConcat(n_items=len(vocab), n_users=len(users), layers=[100])
    """

    personalized = True
    concatenates_sessions = True

    def __init__(self, n_items, n_users=0, **kwargs):
        self.n_users = int(n_users)
        super().__init__(n_items, **kwargs)

    def get_config(self):
        return {**super().get_config(), "n_users": self.n_users}
