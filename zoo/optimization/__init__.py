"""What a train step optimizes and how: the losses (`losses`: BPR, BPR-max, TOP1, TOP1-max,
cross-entropy with logQ, over in-batch and sampled candidate columns) and the optimizer (`optimizers`:
the reference GRU4Rec's Adagrad with momentum, with updates of the touched rows only)."""
