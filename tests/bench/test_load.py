"""`zoo bench load`: concurrent clients against `zoo serve` on 127.0.0.1, no errors, the server still answers."""
import json

import pytest

from export_fixtures import exported  # noqa: F401 (fixture)
from zoo.cli import main
from zoo.errors import UserError
from zoo.bench.load import load_test


@pytest.mark.parametrize("protocol", ["grpc", "rest"])
def test_concurrent_clients_get_every_answer(exported, protocol):  # noqa: F811
    _, out = exported("gru4rec")
    result = load_test(str(out), clients=8, requests=300, protocol=protocol)
    assert result["errors"] == 0, result["first_errors"]
    assert result["ok"] == result["sent"] == 300 and result["not_sent"] == 0
    assert result["answers_after"] and result["stopped_cleanly"] and result["p99_ms"] >= result["p50_ms"] > 0


def test_a_burst_of_malformed_requests_among_good_ones_is_refused_and_survived(exported, capsys):  # noqa: F811
    _, out = exported("gru4rec")
    code = main(["bench", "load", str(out), "--clients", "8", "--requests", "300", "--malformed-every", "3",
                 "--protocol", "grpc", "--json"])
    result = json.loads(capsys.readouterr().out)
    assert code == 0 and result["errors"] == 0, result["first_errors"]
    assert (result["refused"], result["ok"]) == (100, 200) and result["answers_after"]


def test_the_test_is_bounded_in_time_and_checks_its_options(exported):  # noqa: F811
    _, out = exported("gru4rec")
    with pytest.raises(UserError, match="--clients must be >= 1"):
        load_test(str(out), clients=0)
    with pytest.raises(UserError, match="not an export directory"):
        load_test(str(out / "saved_model"))
    result = load_test(str(out), clients=2, requests=10 ** 9, max_seconds=1)
    assert result["errors"] == 0 and 0 < result["sent"] and result["not_sent"] > 0
