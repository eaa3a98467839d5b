"""Writing frames to MP4 or GIF, and showing them in a notebook.

Videos are written atomically (see `gridlab.files`): a failure while encoding
leaves no partial file behind and keeps any file already at the target path.
"""

import base64
import html
import os
import pathlib
import subprocess
from typing import Sequence, Union

import imageio.v2 as iio2
import imageio.v3 as iio3
import imageio_ffmpeg
import numpy as np

from gridlab import files

__all__ = ['SUPPORTED_SUFFIXES', 'display_video', 'read_video', 'save_video']

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
    # warns; 'error' keeps ffmpeg's informational chatter off the terminal.
    with iio2.get_writer(path, format='FFMPEG', mode='I', fps=frame_rate,
                         codec='libx264', pixelformat='yuv420p',
                         macro_block_size=2,
                         ffmpeg_log_level='error') as writer:
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
    if not frame_rate > 0:
        raise ValueError(f'frame_rate must be positive, got {frame_rate!r}')
    frames = _check_frames(frames)
    write = _write_mp4 if suffix == '.mp4' else _write_gif
    with files.atomic_path(path) as tmp:
        write(frames, tmp, frame_rate)
    return path


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
