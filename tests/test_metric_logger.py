"""MetricLogger: the epoch means the history rows hold, and the checkpoint state a resumed epoch starts from."""

from __future__ import annotations

import json

from kavan.training.metric_logger import MetricLogger


def test_averages_are_the_hand_computed_means_in_first_seen_order():
    logger = MetricLogger()
    logger.update(total=1.0, nmse=0.5)
    logger.update(total=2.0, nmse=0.25)
    logger.update(total=4.5, nmse=0.75, kp=3.0)  # a term that appears late is still divided by every step
    assert logger.count == 3
    assert logger.sums == {"total": 7.5, "nmse": 1.5, "kp": 3.0}
    assert logger.averages() == {"total": 2.5, "nmse": 0.5, "kp": 1.0}
    assert list(logger.averages()) == ["total", "nmse", "kp"]


def test_an_empty_epoch_has_no_averages():
    logger = MetricLogger()
    assert logger.count == 0
    assert logger.averages() == {}
    assert logger.state()["sums"] == {} and logger.state()["count"] == 0


def test_restored_from_saved_sums_it_ends_as_an_uninterrupted_epoch():
    steps = [{"total": 0.1, "nmse": 0.7}, {"total": 0.2, "nmse": 0.3}, {"total": 0.3, "nmse": 1e-17},
             {"total": 1e16, "nmse": 0.1}, {"total": 0.7, "nmse": 0.2}]
    whole = MetricLogger()
    for values in steps:
        whole.update(**values)

    first = MetricLogger()
    for values in steps[:2]:
        first.update(**values)
    saved = json.loads(json.dumps(first.state()))  # as a checkpoint's progress JSON holds it
    resumed = MetricLogger.restore(saved["sums"], saved["count"], saved["seconds"])
    for values in steps[2:]:
        resumed.update(**values)
    assert resumed.count == whole.count == 5
    assert resumed.sums == whole.sums  # the same additions in the same order: equal to the last bit
    assert resumed.averages() == whole.averages()


def test_restore_does_not_share_the_saved_dict():
    saved = {"total": 1.0}
    logger = MetricLogger.restore(saved, 1)
    logger.update(total=1.0)
    assert saved == {"total": 1.0}
    assert logger.averages() == {"total": 1.0}


def test_the_clock_goes_on_from_the_restored_seconds():
    logger = MetricLogger.restore({}, 0, seconds=12.5)
    assert 12.5 <= logger.seconds < 60
    assert set(logger.state()) == {"sums", "count", "seconds"}
