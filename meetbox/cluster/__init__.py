"""Every core of a box and many boxes: worker processes, their placement of rooms, the
gateway that takes the public URL, and the shared registry (in memory or Redis)."""
