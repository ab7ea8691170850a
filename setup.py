"""The compiled forwarding loop (meetbox/sfu/_fanout.c) is optional: where no C compiler
or Python headers are found, the install goes on and meetbox forwards with the Python
implementation of the same loop (meetbox/sfu/fanout.py)."""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "meetbox.sfu._fanout",
            sources=["meetbox/sfu/_fanout.c"],
            extra_compile_args=["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"],
            optional=True,
        )
    ]
)
