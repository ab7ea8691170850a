"""The compiled forwarding loop (meetbox/sfu/csrc) is optional: where no C compiler or
Python headers are found, the install goes on and meetbox forwards with the Python
implementation of the same loop (meetbox/sfu/fanout.py)."""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "meetbox.sfu._fanout",
            sources=[
                "meetbox/sfu/csrc/fanout.c",
                "meetbox/sfu/csrc/forwarder.c",
                "meetbox/sfu/csrc/route.c",
            ],
            depends=["meetbox/sfu/csrc/fanout.h"],
            extra_compile_args=[
                "-O2",
                "-fvisibility=hidden",
                "-Wall",
                "-Wextra",
                "-Wno-unused-parameter",
                "-Wno-missing-field-initializers",
            ],
            optional=True,
        )
    ]
)
