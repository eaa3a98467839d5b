"""Writing frames to MP4 or GIF, showing them in a notebook, and annotating
recorded episodes so that a video is worth watching (`annotate_episodes`).

Videos are written atomically (see `gridlab.core.files`): a failure while encoding
leaves no partial file behind and keeps any file already at the target path.
"""

import base64
import dataclasses
import html
import math
import os
import pathlib
import re
import subprocess
from typing import List, Optional, Sequence, Union

import imageio.v2 as iio2
import imageio.v3 as iio3
import imageio_ffmpeg
import numpy as np

from gridlab.core import files
from gridlab.envs import rendering

__all__ = ['SUPPORTED_SUFFIXES', 'Episode', 'annotate_episodes', 'display_video',
           'probe_video', 'read_video', 'save_video']

SUPPORTED_SUFFIXES = ('.mp4', '.gif')

PathLike = Union[str, os.PathLike]


def _check_frames(frames: Sequence[np.ndarray]) -> list:
    """Returns the frames as a list of arrays after checking them all.

    Every frame is checked before anything is written, so bad input never
    starts an encoder.
    """
    if isinstance(frames, np.ndarray) and frames.ndim == 4:
        frames = list(frames)
    try:
        frames = [np.asarray(frame) for frame in frames]
    except TypeError:
        raise ValueError(
            f'frames must be a sequence of (H, W, 3) uint8 arrays, got '
            f'{type(frames).__name__}') from None
    if not frames:
        raise ValueError('frames is empty: a video needs at least one frame')
    first = frames[0]
    if first.ndim != 3 or first.shape[-1] != 3 or 0 in first.shape:
        raise ValueError(
            f'frame 0 has shape {first.shape}, expected (H, W, 3) with H, W > 0')
    for index, frame in enumerate(frames):
        if frame.shape != first.shape:
            raise ValueError(
                f'frame {index} has shape {frame.shape}, expected {first.shape} '
                f'like frame 0: all frames must have the same shape')
        if frame.dtype != np.uint8:
            # Guessing a scale for floats ([0, 1] or [0, 255]) hides bugs.
            raise ValueError(
                f'frame {index} has dtype {frame.dtype}, expected uint8; '
                f'convert with e.g. (frame * 255).round().astype(np.uint8)')
    return frames


def _pad_to_even(frame: np.ndarray) -> np.ndarray:
    """Pads height and width to even sizes by repeating the last row/column.

    yuv420p, the pixel format every player understands, stores colour at half
    resolution and so needs even sizes; padding keeps every original pixel,
    unlike the resizing imageio would otherwise do.
    """
    h, w = frame.shape[:2]
    if h % 2 == 0 and w % 2 == 0:
        return frame
    return np.pad(frame, ((0, h % 2), (0, w % 2), (0, 0)), mode='edge')


def _write_mp4(frames, path: pathlib.Path, frame_rate: float) -> None:
    # macro_block_size=2 matches the padding, so imageio neither resizes nor
    # warns. ffmpeg writes to the terminal (imageio-ffmpeg does not capture
    # its stderr), so it stays quiet: `save_video` reports a failed write, a
    # full disk among them, in one line of its own.
    with iio2.get_writer(path, format='FFMPEG', mode='I', fps=frame_rate,
                         codec='libx264', pixelformat='yuv420p',
                         macro_block_size=2,
                         ffmpeg_log_level='quiet') as writer:
        for frame in frames:
            writer.append_data(_pad_to_even(frame))


def _write_gif(frames, path: pathlib.Path, frame_rate: float) -> None:
    # Pillow takes the duration per frame in milliseconds; loop=0 is forever.
    iio3.imwrite(path, np.stack(frames), plugin='pillow', extension='.gif',
                 is_batch=True, duration=1000. / frame_rate, loop=0)


def _check_suffix(path: pathlib.Path) -> str:
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise ValueError(
            f'cannot write a video to {str(path)!r}: suffix {path.suffix!r} is '
            f'not supported; use one of {", ".join(SUPPORTED_SUFFIXES)}')
    return suffix


def save_video(frames: Sequence[np.ndarray], path: PathLike,
               frame_rate: float = 12) -> pathlib.Path:
    """Writes frames to an MP4 or GIF file, atomically.

    MP4 uses H.264 in yuv420p (playable in browsers and notebooks); frames of
    odd height or width are padded by one repeated row/column to even sizes.
    GIF uses Pillow, loops forever and is lossless up to its 256-colour
    palette per frame; Pillow merges identical consecutive frames into one
    longer frame, so reading a GIF back can give fewer frames than written
    while playback time stays the same.

    Args:
        frames: non-empty sequence of (H, W, 3) uint8 arrays, all one shape.
        path: target file; its suffix, '.mp4' or '.gif', picks the format.
        frame_rate: frames per second.

    Returns:
        `path` as a `pathlib.Path`.

    Raises:
        ValueError: on empty frames, a frame of another shape or dtype, a
            non-positive frame rate, or an unsupported suffix.
        FileNotFoundError: if the folder of `path` does not exist.
    """
    path = pathlib.Path(path)
    suffix = _check_suffix(path)
    if (isinstance(frame_rate, bool) or not isinstance(frame_rate, (int, float, np.number))
            or not math.isfinite(frame_rate) or not frame_rate > 0):
        raise ValueError(f'frame_rate must be a finite number > 0, got {frame_rate!r}')
    frames = _check_frames(frames)
    write = _write_mp4 if suffix == '.mp4' else _write_gif
    with files.atomic_path(path) as tmp:
        try:
            write(frames, tmp, frame_rate)
        except OSError as error:  # ffmpeg died mid-write (a full disk, a kill).
            raise VideoWriteError(f'writing {str(path)!r} failed (disk full?): '
                                  f'{_first_line(error)}') from None
        # Only a file that reads back whole replaces anything: an encoder that
        # ran out of disk can return normally with a truncated file.
        _verify(tmp, suffix, len(frames), path)
    return path


class VideoWriteError(OSError):
    """The encoder did not produce a whole video (a full disk, a dead ffmpeg)."""


def _first_line(error: BaseException) -> str:
    """An error's first line (imageio's run to many: ffmpeg's command and log)."""
    return str(error).splitlines()[0] if str(error) else repr(error)


def _verify(path: pathlib.Path, suffix: str, expected_frames: int,
            shown: pathlib.Path) -> None:
    try:
        if suffix == '.mp4':
            frames, _ = imageio_ffmpeg.count_frames_and_secs(str(path))
            whole = frames == expected_frames
        else:
            from PIL import Image
            with Image.open(path) as image:
                image.seek(image.n_frames - 1)  # Decodes to the last frame.
            whole = True
    except Exception as error:  # ffmpeg and Pillow fail in many ways.
        raise VideoWriteError(f'writing {str(shown)!r} failed (disk full?): the video '
                              f'does not read back ({_first_line(error)})') from None
    if not whole:
        raise VideoWriteError(f'writing {str(shown)!r} failed: {frames} of '
                              f'{expected_frames} frames read back (disk full?)')


def read_video(path: PathLike) -> np.ndarray:
    """Reads a video written by `save_video` back as frames.

    Args:
        path: an '.mp4' or '.gif' file.

    Returns:
        (T, H, W, 3) uint8 array. MP4 frames have the even, padded size that
        was encoded.

    Raises:
        ValueError: on an unsupported suffix.
        FileNotFoundError: if `path` does not exist.
    """
    path = pathlib.Path(path)
    suffix = _check_suffix(path)
    if not path.is_file():
        raise FileNotFoundError(f'no video at {str(path)!r}')
    if suffix == '.gif':
        frames = iio3.imread(path, plugin='pillow', index=None, mode='RGB')
        # A single-frame GIF comes back without the time axis.
        return frames[None] if frames.ndim == 3 else frames
    return _read_mp4(path)


def _read_mp4(path: pathlib.Path) -> np.ndarray:
    """Decodes an MP4 with the ffmpeg that imageio-ffmpeg ships.

    imageio's own ffmpeg reader leaves pipes open when it reaches the end of a
    file (a ResourceWarning; imageio/imageio-ffmpeg#61), so this asks ffmpeg
    for a stream of PPM images instead: each carries its own size, so no
    ffmpeg log has to be parsed.
    """
    command = [imageio_ffmpeg.get_ffmpeg_exe(), '-nostdin', '-v', 'error',
               '-i', str(path), '-f', 'image2pipe', '-vcodec', 'ppm', '-']
    result = subprocess.run(command, capture_output=True, check=False)
    if result.returncode != 0:
        raise OSError(f'ffmpeg could not read {str(path)!r}: '
                      f'{result.stderr.decode(errors="replace").strip()}')
    frames = []
    data = memoryview(result.stdout)
    position = 0
    while position < len(data):
        # Header: 'P6', width, height, maxval, separated by whitespace and
        # followed by a single whitespace byte before the pixels.
        fields = []
        while len(fields) < 4:
            while data[position] in b' \t\r\n':
                position += 1
            end = position
            while data[end] not in b' \t\r\n':
                end += 1
            fields.append(bytes(data[position:end]))
            position = end
        position += 1
        if fields[0] != b'P6' or fields[3] != b'255':
            raise OSError(f'unexpected frame header {fields} from ffmpeg')
        width, height = int(fields[1]), int(fields[2])
        size = width * height * 3
        frames.append(np.frombuffer(data[position:position + size],
                                    dtype=np.uint8).reshape(height, width, 3))
        position += size
    if not frames:
        raise OSError(f'no frames in {str(path)!r}')
    return np.stack(frames)


def display_video(frames: Sequence[np.ndarray], filename: PathLike = 'temp.mp4',
                  frame_rate: float = 12):
    """Saves frames to `filename` and returns an object that plays them inline.

    Meant as the last expression of a notebook cell, like in the seed
    tutorial. The video is embedded in the notebook (base64), so it still
    plays after `filename` is deleted or the notebook is moved.

    Args:
        frames: non-empty sequence of (H, W, 3) uint8 arrays, all one shape.
        filename: file to write; '.mp4' gives a <video> player, '.gif' an
            animated <img>.
        frame_rate: frames per second.

    Returns:
        An `IPython.display.HTML` object.

    Raises:
        ImportError: if IPython is not installed.
        ValueError: as `save_video`.
    """
    # Imported here so that gridlab itself does not need IPython.
    try:
        from IPython import display  # pylint: disable=import-outside-toplevel
    except ImportError as error:
        raise ImportError(
            'display_video needs IPython to show the video in a notebook; '
            'install it with `pip install ipython`, or use save_video to '
            'write the file only') from error
    frames = _check_frames(frames)
    path = save_video(frames, filename, frame_rate)
    # Small renders would show as postage stamps at their natural size.
    width = max(320, frames[0].shape[1])
    data = base64.b64encode(path.read_bytes()).decode('ascii')
    alt = html.escape(path.name, quote=True)
    if path.suffix.lower() == '.gif':
        tag = (f'<img width="{width}" src="data:image/gif;base64,{data}" '
               f'alt="{alt}">')
    else:
        tag = (f'<video width="{width}" controls loop '
               f'src="data:video/mp4;base64,{data}">{alt}</video>')
    return display.HTML(tag)


# ---------------------------------------------------------------------------
# Annotated evaluation videos.


@dataclasses.dataclass
class Episode:
    """One recorded episode: a frame before the first step and after each.

    `frames[0]` shows the start; `frames[t]` the state after step t, whose
    reward is `rewards[t - 1]`. So len(frames) == len(rewards) + 1.
    """
    frames: List[np.ndarray]
    rewards: List[float]
    cut_short: bool = False  # True when a step cap ended it, not the task.

    @property
    def episode_return(self) -> float:
        return float(sum(self.rewards))


def _as_episode(episode, index: int) -> Episode:
    """An `Episode` from an Episode, a (frames, rewards) pair or a dict."""
    if isinstance(episode, Episode):
        result = episode
    elif isinstance(episode, dict):
        result = Episode(list(episode['frames']), list(episode['rewards']),
                         bool(episode.get('cut_short', False)))
    else:
        try:
            frames, rewards = episode
        except (TypeError, ValueError):
            raise ValueError(
                f'episodes[{index}] must be an Episode, a (frames, rewards) '
                f'pair or a dict with "frames" and "rewards", got '
                f'{type(episode).__name__}') from None
        result = Episode(list(frames), list(rewards))
    if len(result.frames) != len(result.rewards) + 1:
        raise ValueError(
            f'episodes[{index}] has {len(result.frames)} frames and '
            f'{len(result.rewards)} rewards; expected one frame more than '
            'rewards (the start, then one frame after each step)')
    return result


def _upscale(frame: np.ndarray, factor: int) -> np.ndarray:
    if factor == 1:
        return frame
    return np.repeat(np.repeat(frame, factor, axis=0), factor, axis=1)


def _number(value: float) -> str:
    """3 significant digits, no '-0', no trailing '.0' for whole numbers."""
    value = float(value)
    if value == int(value) and abs(value) < 1e6:
        return str(int(value))
    return f'{value:.3g}'


def annotate_episodes(episodes, frame_rate: float = 8, *,
                      hold_seconds: float = 1., step_seconds: float = 0.25,
                      title_seconds: float = 1., max_seconds: float = 60.,
                      label: Optional[str] = None,
                      min_width: int = 320) -> List[np.ndarray]:
    """Turns recorded episodes into frames worth watching, for `save_video`.

        episodes = gridlab.viz.recording.record_episodes(environment, agent, 3)
        frames = annotate_episodes(episodes, frame_rate=8, label='dqn on simple')
        save_video(frames, 'evaluation.mp4', frame_rate=8)

    Every frame gets a banner above it with the episode, the step, the step's
    reward and the return so far. Each episode opens with a title card
    (`title_seconds`), holds its first frame and its last (`hold_seconds`;
    the last one says whether the episode ended or was cut short), and shows
    each step for at least `step_seconds` unless that would make the episode
    last longer than `max_seconds` (a long CartPole run plays at one frame
    per step). So a 5-step GridWorld episode at 8 frames per second lasts
    4 s (1 s title, 1 s start, 4 x 0.25 s, 1 s end), not 0.75 s. Frames
    narrower than `min_width` are enlarged by a whole factor (nearest
    neighbour), so the text fits and cells stay sharp.

    Args:
        episodes: a sequence of `Episode`, of (frames, rewards) pairs, or of
            dicts with 'frames', 'rewards' (and optionally 'cut_short'); each
            with one frame more than rewards. All frames one shape, uint8.
        frame_rate: the rate the video will be written at (frames per second).
        hold_seconds, step_seconds, title_seconds, max_seconds: durations as
            above; title_seconds=0 leaves out the title cards.
        label: optional text for the title cards, e.g. 'dqn on simple'.
        min_width: enlarge narrower frames to at least this width.

    Returns:
        A list of (H', W', 3) uint8 frames, H' = enlarged height + banner.

    Raises:
        ValueError: on no episodes, a malformed episode, frames of different
            shapes or dtypes, or a non-positive frame rate or duration.
    """
    if not frame_rate > 0:
        raise ValueError(f'frame_rate must be positive, got {frame_rate!r}')
    for name, value in (('hold_seconds', hold_seconds),
                        ('step_seconds', step_seconds),
                        ('title_seconds', title_seconds),
                        ('max_seconds', max_seconds)):
        if not value >= 0:
            raise ValueError(f'{name} must be >= 0, got {value!r}')
    episodes = [_as_episode(episode, i) for i, episode in enumerate(episodes)]
    if not episodes:
        raise ValueError('episodes is empty: there is nothing to annotate')
    frames = _check_frames([f for episode in episodes for f in episode.frames])
    height, width = frames[0].shape[:2]
    factor = max(1, -(-int(min_width) // width))
    width *= factor
    font_size = int(np.clip(width // 24, 11, 22))
    hold = max(1, round(hold_seconds * frame_rate))
    title = round(title_seconds * frame_rate)
    banner_height = rendering.text_block(width, ['', ''], font_size).shape[0]

    out = []
    total = len(episodes)
    for number, episode in enumerate(episodes, start=1):
        steps = len(episode.rewards)
        per_step = max(1, round(step_seconds * frame_rate))
        if steps * per_step > max_seconds * frame_rate:
            per_step = 1
        name = f'Episode {number} of {total}' if total > 1 else 'Episode'
        if title:
            lines = [name, f'return {_number(episode.episode_return)} in '
                           f'{steps} steps' +
                     (' (cut short)' if episode.cut_short else '')]
            if label:
                lines.insert(0, label)
            card = rendering.text_block(
                width, lines, int(font_size * 1.2), centre=True,
                height=height * factor + banner_height)
            out.extend([card] * title)
        so_far = 0.
        for t, frame in enumerate(episode.frames):
            if t == 0:
                status, repeat = 'start', hold
            else:
                so_far += float(episode.rewards[t - 1])
                status = f'reward {_number(episode.rewards[t - 1])}'
                repeat = per_step
            if t == steps:
                repeat = max(repeat, hold)
                status += ('  (cut short)' if episode.cut_short
                           else '  (episode over)')
            banner = rendering.text_block(
                width, [f'{name}   step {t}/{steps}',
                        f'{status}   return {_number(so_far)}'], font_size)
            annotated = np.concatenate([banner, _upscale(frame, factor)])
            out.extend([annotated] * repeat)
    # Every banner has the same height (same font, same line count) and a
    # title card is made to match, so all frames share one shape.
    return out


def probe_video(path: PathLike) -> dict:
    """The codec, pixel format, size and duration of a video, from ffmpeg.

    Browsers play MP4 only in H.264 with yuv420p; this is how to check.

    Returns:
        {'codec': e.g. 'h264', 'pixel_format': e.g. 'yuv420p',
         'width': int, 'height': int, 'seconds': float}

    Raises:
        FileNotFoundError: if `path` does not exist.
        OSError: if ffmpeg finds no video stream.
    """
    path = pathlib.Path(path)
    if not path.is_file():
        raise FileNotFoundError(f'no video at {str(path)!r}')
    # `ffmpeg -i FILE` describes the file on stderr, then fails for want of
    # an output; that description is all that is needed.
    result = subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), '-nostdin',
                             '-hide_banner', '-i', str(path)],
                            capture_output=True, check=False)
    text = result.stderr.decode(errors='replace')
    stream = re.search(r'Stream #.*?Video: (\w+).*?, (\w+)[(,].*?(\d+)x(\d+)',
                       text)
    duration = re.search(r'Duration: (\d+):(\d+):(\d+\.\d+)', text)
    if stream is None or duration is None:
        raise OSError(f'ffmpeg found no video stream in {str(path)!r}: {text}')
    hours, minutes, seconds = duration.groups()
    return {'codec': stream.group(1), 'pixel_format': stream.group(2),
            'width': int(stream.group(3)), 'height': int(stream.group(4)),
            'seconds': 3600 * int(hours) + 60 * int(minutes) + float(seconds)}
