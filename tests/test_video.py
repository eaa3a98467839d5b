"""Tests for gridlab.viz.video: real files are written, read back and compared."""

import base64
import sys
import types

import numpy as np
import pytest
from conftest import needs

from gridlab.viz import video

# Odd sizes on purpose: MP4 (yuv420p) needs even ones, so they get padded.
HEIGHT, WIDTH, NUM_FRAMES = 35, 41, 10


def moving_square(num_frames=NUM_FRAMES):
    """A white 8x8 square moving right on black, one frame per position."""
    frames = []
    for t in range(num_frames):
        frame = np.zeros((HEIGHT, WIDTH, 3), dtype=np.uint8)
        frame[10:18, 2 + 3 * t:10 + 3 * t] = 255
        frames.append(frame)
    return frames


def bright_centre_x(frame):
    """x of the centre of mass of the bright pixels."""
    _, xs = np.nonzero(frame.mean(axis=-1) > 128)
    return xs.mean()


def test_mp4_round_trip_pads_to_even_size(tmp_path):
    frames = moving_square()
    path = video.save_video(frames, str(tmp_path / 'square.mp4'),
                            frame_rate=10)
    assert path == tmp_path / 'square.mp4' and path.stat().st_size > 0
    read = video.read_video(path)
    assert read.dtype == np.uint8
    assert read.shape == (NUM_FRAMES, HEIGHT + 1, WIDTH + 1, 3)
    original = np.stack(frames).astype(int)
    error = np.abs(read[:, :HEIGHT, :WIDTH].astype(int) - original)
    assert error.mean() < 4  # lossy, but close
    xs = [bright_centre_x(frame) for frame in read]
    assert np.all(np.diff(xs) > 1)  # the square moved right every frame
    assert xs[0] == pytest.approx(5.5, abs=1)
    # The padding repeats the last row and column rather than adding black.
    assert np.abs(read[:, -1, :WIDTH].astype(int) -
                  read[:, -2, :WIDTH]).mean() < 8
    assert sorted(p.name for p in tmp_path.iterdir()) == ['square.mp4']


def test_mp4_even_size_is_kept(tmp_path):
    frames = [frame[:34, :40] for frame in moving_square(3)]
    read = video.read_video(video.save_video(frames, tmp_path / 'even.mp4'))
    assert read.shape == (3, 34, 40, 3)


def test_gif_round_trip_is_exact_and_loops(tmp_path):
    frames = moving_square()
    path = video.save_video(np.stack(frames), tmp_path / 'square.gif',
                            frame_rate=20)
    read = video.read_video(path)
    np.testing.assert_array_equal(read, np.stack(frames))
    from PIL import Image  # pylint: disable=import-outside-toplevel
    with Image.open(path) as image:
        assert image.info['loop'] == 0
        assert image.info['duration'] == 50
    assert sorted(p.name for p in tmp_path.iterdir()) == ['square.gif']


def test_single_frame_gif(tmp_path):
    frames = moving_square(1)
    read = video.read_video(video.save_video(frames, tmp_path / 'one.gif'))
    np.testing.assert_array_equal(read, np.stack(frames))


@pytest.mark.parametrize('suffix', ['.mp4', '.gif'])
def test_bad_frame_in_the_middle_writes_nothing(tmp_path, suffix):
    frames = moving_square()
    frames[5] = frames[5][:-1]
    path = tmp_path / ('new' + suffix)
    with pytest.raises(ValueError, match=r'frame 5 .*\(34, 41, 3\).*'
                                         r'\(35, 41, 3\)'):
        video.save_video(frames, path)
    assert not list(tmp_path.iterdir())

    existing = tmp_path / ('old' + suffix)
    existing.write_bytes(b'previous video')
    with pytest.raises(ValueError, match='frame 5'):
        video.save_video(frames, existing)
    assert existing.read_bytes() == b'previous video'
    assert [p.name for p in tmp_path.iterdir()] == [existing.name]


def test_encoder_failure_keeps_existing_file(tmp_path, monkeypatch):
    existing = tmp_path / 'old.mp4'
    existing.write_bytes(b'previous video')
    real_write = video._write_mp4  # pylint: disable=protected-access

    def write_then_fail(frames, path, frame_rate):
        real_write(frames, path, frame_rate)
        assert path.stat().st_size > 0  # something really was written
        raise RuntimeError('disk full')

    monkeypatch.setattr(video, '_write_mp4', write_then_fail)
    with pytest.raises(RuntimeError, match='disk full'):
        video.save_video(moving_square(3), existing)
    assert existing.read_bytes() == b'previous video'
    assert [p.name for p in tmp_path.iterdir()] == ['old.mp4']


@pytest.mark.parametrize('frames, match', [
    ([], 'empty'),
    ([np.zeros((4, 4, 3))], r'frame 0 has dtype float64, expected uint8'),
    ([np.zeros((4, 4), np.uint8)], r'frame 0 has shape \(4, 4\)'),
    ([np.zeros((4, 4, 4), np.uint8)], r'\(H, W, 3\)'),
    ([np.zeros((4, 4, 3), np.uint8), np.zeros((4, 4, 3), np.int32)],
     'frame 1 has dtype int32'),
    (None, 'sequence'),
])
def test_bad_frames_raise(tmp_path, frames, match):
    with pytest.raises(ValueError, match=match):
        video.save_video(frames, tmp_path / 'bad.mp4')
    assert not list(tmp_path.iterdir())


def test_bad_suffix_and_frame_rate(tmp_path):
    with pytest.raises(ValueError, match=r"'\.avi'.*\.mp4, \.gif"):
        video.save_video(moving_square(2), tmp_path / 'clip.avi')
    with pytest.raises(ValueError, match='frame_rate'):
        video.save_video(moving_square(2), tmp_path / 'clip.mp4', frame_rate=0)
    with pytest.raises(FileNotFoundError):
        video.save_video(moving_square(2), tmp_path / 'missing' / 'clip.mp4')
    assert not list(tmp_path.iterdir())
    with pytest.raises(FileNotFoundError):
        video.read_video(tmp_path / 'nothing.gif')


@pytest.fixture
def fake_ipython(monkeypatch):
    """A stand-in for IPython.display.HTML, so the test needs no IPython."""
    display = types.ModuleType('IPython.display')

    class HTML:  # pylint: disable=too-few-public-methods
        def __init__(self, data):
            self.data = data

    display.HTML = HTML
    package = types.ModuleType('IPython')
    package.display = display
    monkeypatch.setitem(sys.modules, 'IPython', package)
    monkeypatch.setitem(sys.modules, 'IPython.display', display)
    return display


@pytest.mark.parametrize('name, tag, mime', [
    ('clip.mp4', '<video', 'video/mp4'),
    ('clip.gif', '<img', 'image/gif'),
])
def test_display_video_embeds_the_file(tmp_path, fake_ipython, name, tag,
                                       mime):
    path = tmp_path / name
    shown = video.display_video(moving_square(), filename=str(path),
                                frame_rate=12)
    assert isinstance(shown, fake_ipython.HTML)
    assert shown.data.startswith(tag)
    prefix = f'src="data:{mime};base64,'
    encoded = shown.data.split(prefix, 1)[1].split('"', 1)[0]
    assert base64.b64decode(encoded) == path.read_bytes()


def test_display_video_with_real_ipython(tmp_path, monkeypatch):
    display = needs('IPython.display')
    monkeypatch.chdir(tmp_path)
    shown = video.display_video(moving_square())  # seed default: temp.mp4
    assert isinstance(shown, display.HTML)
    assert '<video' in shown.data and (tmp_path / 'temp.mp4').is_file()


def test_display_video_without_ipython(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, 'IPython', None)  # makes import fail
    with pytest.raises(ImportError, match='pip install ipython'):
        video.display_video(moving_square(), filename=tmp_path / 'clip.mp4')
    assert not list(tmp_path.iterdir())


# ---------------------------------------------------------------------------
# Annotated episodes.


def episode_of(steps, size=(24, 32)):
    """steps + 1 frames, each a different grey; reward -1 a step, +10 last."""
    frames = [np.full(size + (3,), (20 * t + 10) % 256, np.uint8)
              for t in range(steps + 1)]
    rewards = [-1.] * (steps - 1) + [10.]
    return frames, rewards


def test_a_five_step_episode_is_held_long_enough_to_watch():
    frames = video.annotate_episodes([episode_of(5)], frame_rate=8)
    # 1 s title card, 1 s first frame, 4 steps of 0.25 s, 1 s last frame.
    assert len(frames) == 8 + 8 + 4 * 2 + 8
    assert len({frame.shape for frame in frames}) == 1
    height, width, _ = frames[0].shape
    assert width == 320  # 32 pixels enlarged ten times, to fit the text
    grid = slice(height - 240, height)  # the enlarged 24-row frame at the bottom
    card, first, last = frames[0], frames[8], frames[-1]
    assert all(np.array_equal(card, f) for f in frames[:8])
    assert all(np.array_equal(first, f) for f in frames[8:16])
    assert all(np.array_equal(last, f) for f in frames[-8:])
    assert np.all(first[grid] == 10) and np.all(last[grid] == 110)
    # A banner of text sits above every frame, and says something different
    # at each step (step number, reward, return).
    banners = [frames[i][:height - 240] for i in (8, 16, 18, 20, 22, 24)]
    assert all(np.unique(b.reshape(-1, 3), axis=0).shape[0] > 2 for b in banners)
    assert len({b.tobytes() for b in banners}) == len(banners)
    # The title card is not a frame of the episode.
    assert not np.any(card[grid] == 10)


def test_several_episodes_are_separated_by_title_cards():
    one, two = episode_of(2), episode_of(3)
    frames = video.annotate_episodes([one, {'frames': two[0], 'rewards': two[1]}],
                                     frame_rate=4, hold_seconds=0.5,
                                     step_seconds=0.5, title_seconds=0.5)
    per_episode = [2 + 2 + 2 * (steps - 1) + 2 for steps in (2, 3)]
    assert len(frames) == sum(per_episode)
    second_card = frames[per_episode[0]]
    assert np.array_equal(second_card, frames[per_episode[0] + 1])
    assert not np.array_equal(second_card, frames[0])  # 'Episode 2 of 2'
    no_cards = video.annotate_episodes([one, two], frame_rate=4,
                                       title_seconds=0, hold_seconds=0.5,
                                       step_seconds=0.5)
    assert len(no_cards) == sum(per_episode) - 4


def test_long_episodes_play_at_one_frame_per_step():
    frames = video.annotate_episodes([episode_of(300, (4, 4))], frame_rate=30,
                                     title_seconds=0, max_seconds=20)
    assert len(frames) == 30 + 299 + 30


@pytest.mark.parametrize('episodes, match', [
    ([], 'empty'),
    ([(episode_of(3)[0], [1.])], r'4 frames and 1 rewards'),
    ([42], r'episodes\[0\]'),
    ([(episode_of(2)[0][:2] + [np.zeros((5, 5, 3), np.uint8)], [0., 0.])],
     r'frame 2 has shape'),
])
def test_annotate_rejects_bad_episodes(episodes, match):
    with pytest.raises(ValueError, match=match):
        video.annotate_episodes(episodes)


def test_annotated_mp4_is_h264_yuv420p_and_lasts(tmp_path):
    frames = video.annotate_episodes([episode_of(5)], frame_rate=8)
    path = video.save_video(frames, tmp_path / 'episode.mp4', frame_rate=8)
    info = video.probe_video(path)
    assert info['codec'] == 'h264' and info['pixel_format'] == 'yuv420p'
    assert info['seconds'] == pytest.approx(len(frames) / 8, abs=0.15)
    assert len(video.read_video(path)) == len(frames)


def test_an_encoder_that_dies_mid_write_is_one_line_and_leaves_the_old_video(tmp_path,
                                                                              monkeypatch):
    # imageio-ffmpeg's error when ffmpeg dies runs to many lines (its command,
    # its empty log: ffmpeg is quiet); gridlab says it in one and keeps the
    # video that was there.
    good = tmp_path / 'episode.mp4'
    frames = [np.full((16, 16, 3), i, np.uint8) for i in range(0, 200, 20)]
    video.save_video(frames, good)
    before = good.read_bytes()

    def dies(frames, path, frame_rate):
        path.write_bytes(b'half a video')
        raise OSError('[Errno 32] Broken pipe\n\nFFMPEG COMMAND:\nffmpeg -y ...\n\n'
                      'FFMPEG STDERR OUTPUT:\n')
    monkeypatch.setattr(video, '_write_mp4', dies)
    with pytest.raises(video.VideoWriteError) as raised:
        video.save_video(frames, good)
    assert str(raised.value).count('\n') == 0 and 'Broken pipe' in str(raised.value)
    assert good.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ['episode.mp4']
