"""opencv_single_threaded: the process-wide setting survives concurrent blocks."""

import threading

import cv2
import pytest

from dermfeat.base._threads import opencv_single_threaded


@pytest.fixture
def four_threads():
    before = cv2.getNumThreads()
    cv2.setNumThreads(4)
    yield
    cv2.setNumThreads(before)


def test_nested_blocks_restore(four_threads):
    with opencv_single_threaded():
        with opencv_single_threaded():
            assert cv2.getNumThreads() == 1
        assert cv2.getNumThreads() == 1
    assert cv2.getNumThreads() == 4


def test_interleaved_threads_restore_the_setting(four_threads):
    # A enters, B enters, A leaves, B leaves: a save/restore per block would let B
    # save A's "1" and restore it last, leaving OpenCV single-threaded for good.
    a_in, b_in, a_out = threading.Event(), threading.Event(), threading.Event()
    inside = []

    def first():
        with opencv_single_threaded():
            a_in.set()
            b_in.wait(5)
        a_out.set()

    def second():
        a_in.wait(5)
        with opencv_single_threaded():
            b_in.set()
            a_out.wait(5)
            inside.append(cv2.getNumThreads())

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert inside == [1]  # still single-threaded while B's block is open
    assert cv2.getNumThreads() == 4


def test_many_threads_at_random(four_threads):
    barrier = threading.Barrier(8)

    def work():
        barrier.wait(5)
        for _ in range(50):
            with opencv_single_threaded():
                assert cv2.getNumThreads() == 1

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert cv2.getNumThreads() == 4


def test_restored_after_an_exception(four_threads):
    with pytest.raises(KeyError):
        with opencv_single_threaded():
            raise KeyError("x")
    assert cv2.getNumThreads() == 4
