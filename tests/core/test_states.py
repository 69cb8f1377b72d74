"""The vocabulary: one word per state, and a typed word maps back to its state."""

from desktop_app.core import states


def test_every_state_and_event_kind_has_one_word():
    kinds = set(states.STATE_OF) | set(states.FINAL_STATES) | {states.PROGRESS}
    assert kinds <= set(states.LABELS)
    words = list(states.LABELS.values())
    assert len(words) == len(set(words)), "two states share a word"


def test_labels_are_the_users_words():
    assert states.label(states.COMPLETE) == "done"
    assert states.label(states.ERROR) == "failed"
    assert states.label(states.EXECUTING) == "running"
    assert states.label(states.ENQUEUED) == "pending"
    assert "busy" not in states.LABELS.values()  # kept for workers
    assert states.label("something-new") == "something-new"
    assert states.label(None) == ""


def test_from_label_accepts_words_and_stored_names():
    assert states.from_label("Done") == states.COMPLETE
    assert states.from_label(" failed ") == states.ERROR
    assert states.from_label("error") == states.ERROR
    assert states.from_label("timed out") == states.TIMEOUT
