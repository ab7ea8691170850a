"""Synthetic media for tests and load: frames that carry a counter, tones of set loudness.

A video frame shows its frame number as a row of black and white blocks that survive
lossy coding; :func:`read_counter` reads it back from a decoded frame, so a test can
prove that the frames a subscriber decodes are the ones the publisher sent.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

SYNC = (1, 0, 1, 1)
DATA_BITS = 16
CHECK_BITS = 4
BLOCKS = len(SYNC) + DATA_BITS + CHECK_BITS
WHITE = 235
BLACK = 16


def _bits(counter: int) -> list[int]:
    value = counter & 0xFFFF
    check = (value ^ (value >> 4) ^ (value >> 8) ^ (value >> 12)) & 0xF
    data = [(value >> (DATA_BITS - 1 - i)) & 1 for i in range(DATA_BITS)]
    tail = [(check >> (CHECK_BITS - 1 - i)) & 1 for i in range(CHECK_BITS)]
    return [*SYNC, *data, *tail]


def _block_size(width: int) -> int:
    size = width // BLOCKS
    if size < 8:
        raise ValueError(f"frame width {width} is too small for the counter (min {8 * BLOCKS})")
    return size


def counter_frame(counter: int, width: int = 320, height: int = 240) -> npt.NDArray[np.uint8]:
    """A yuv420p frame, shape (height * 3 // 2, width), showing ``counter``."""
    if width % 2 or height % 2:
        raise ValueError("frame width and height must be even")
    block = _block_size(width)
    if height < block * 3:
        raise ValueError(f"frame height {height} is too small for the counter")
    frame = np.empty((height * 3 // 2, width), dtype=np.uint8)
    luma = frame[:height]
    # a moving gradient keeps the encoder busy like a camera would
    ramp = (np.arange(width, dtype=np.int32) * 2 + counter * 4) % 200 + 28
    luma[:] = ramp.astype(np.uint8)[None, :]
    frame[height:] = 128
    top = block
    for i, bit in enumerate(_bits(counter)):
        luma[top : top + block, i * block : (i + 1) * block] = WHITE if bit else BLACK
    return frame


def read_counter(luma: npt.NDArray[np.uint8]) -> int | None:
    """The counter shown in a decoded luma plane (height, width), or None if unreadable."""
    height, width = luma.shape[:2]
    try:
        block = _block_size(width)
    except ValueError:
        return None
    if height < block * 3:
        return None
    y = block + block // 2
    samples = [int(luma[y, i * block + block // 2]) for i in range(BLOCKS)]
    bits = [1 if s > 128 else 0 for s in samples]
    if tuple(bits[: len(SYNC)]) != SYNC:
        return None
    value = 0
    for bit in bits[len(SYNC) : len(SYNC) + DATA_BITS]:
        value = value << 1 | bit
    if _bits(value) != bits:
        return None
    return value


def tone(
    frequency: float, amplitude: float, sample_rate: int, start: int, count: int, channels: int = 1
) -> npt.NDArray[np.int16]:
    """``count`` samples of a sine at ``amplitude`` (0..1 of full scale), interleaved.

    Shape (1, count * channels), as PyAV's packed s16 audio frames want it.
    """
    if not 0.0 <= amplitude <= 1.0:
        raise ValueError("tone amplitude must be within 0..1")
    t = (np.arange(start, start + count, dtype=np.float64)) / sample_rate
    wave = np.sin(2 * np.pi * frequency * t) * amplitude * 32767
    samples = wave.astype(np.int16)
    if channels > 1:
        samples = np.repeat(samples, channels)
    return samples.reshape(1, -1)
