"""Next-item evaluation: full ranking over the catalogue, and a labelled sampled-negatives protocol.

Full ranking (the reference GRU4Rec's protocol). Test sessions are played in session-parallel
mini-batches with the hidden state zeroed at each new session; at every event but the session's
first, the model scores ALL training items and the rank of the true next item is

    standard:      rank = 1 + #{j : r_j >  r_target}
    conservative:  rank =     #{j : r_j >= r_target}          (the target counts itself; default)
    median:        rank = 1 + #{j : r_j >  r_target} + (#{j : r_j == r_target} - 1) / 2

    Recall@K = mean(rank <= K)      MRR@K = mean(1 / rank if rank <= K else 0)

over every evaluated event. Ties matter: a model that saturates (tanh) or a broken one that scores
everything equally is ranked last under `conservative`, first under `standard`. Test events whose item
is unknown to the model are removed from their session (the session continues without them) and
counted, then sessions left with fewer than 2 events are dropped and counted, as the reference does.
The catalogue is scored `chunk_size` items at a time (`ranking.rank_counts`, default 4,096): the two
counts add up over chunks, so the ranks are those of the whole score matrix, in batch x chunk memory.

Baselines (`zoo.baselines`) have no recurrent state: `prefix_ranks` scores every target after its
session's events so far (`score_sessions`) and ranks it with the same counts, tie modes and metrics.

User protocol (`evaluate_users`, for personalized models; every model runs it): the test events
are played per user after that user's history (the training events), in user-parallel slots, the
states carried as in training: HRNN builds its user state from the earlier sessions, the user-gated
GRU uses the user's embedding (the fallback vector for users unseen in training), GRU4Rec-Concat
plays the user's sessions as one sequence, and the other models start every session from zero, so
their numbers equal the session protocol's. Baselines score each session after its own events so
far; a session-aware one (`vsknn_e`) also sees the user's earlier sessions. A test session whose id
also occurs in the user's history continues that session (leave-one-out: the history is the start
of the sequence and only the held-out events are ranked); any other test session starts anew after
the history. Every test event with an event before it in its session is ranked over all training
items, with the same tie modes and metrics, so every model ranks the same events.

Both protocols also report the metrics by the prediction's position in its session, and the user
protocol by the user's number of earlier sessions (`zoo.evaluation.breakdowns`).

`evaluate_run` picks the protocol: `session` or `user` as asked; `auto` runs the user protocol when
the model is personalized and the test events have user ids, the session protocol otherwise.

Sampled protocol (HR@K, NDCG@K against N given negatives per test case, e.g. S3-Rec's 99 fixed
negatives for LastFM): NOT comparable with full ranking; reported under `sampled_` keys.
"""
from zoo.evaluation.protocols import PROTOCOLS, check_evaluable, evaluate_run, resolve_protocol
from zoo.evaluation.ranking import TIE_MODES, metrics_from_ranks, ranks_from_counts
from zoo.evaluation.recommend import recommend
from zoo.evaluation.sampled import (
           evaluate_fixed_negatives,
           evaluate_sampled,
           read_negatives,
)
from zoo.evaluation.sessions import evaluate, known_items, prefix_ranks, target_ranks
from zoo.evaluation.users import evaluate_users, user_events

__all__ = ["PROTOCOLS", "TIE_MODES", "check_evaluable", "evaluate", "evaluate_fixed_negatives", "evaluate_run", "evaluate_sampled",
           "evaluate_users", "known_items", "metrics_from_ranks", "prefix_ranks", "ranks_from_counts", "read_negatives",
           "recommend", "resolve_protocol", "target_ranks", "user_events"]
