"""The recurrent recommenders: the shared base (`recommender`: state carry and reset, scoring, the train
step), the five models (SimpleRNN, GRU4Rec, LSTM, HRNN, the user-gated GRU) and the registry by name."""
