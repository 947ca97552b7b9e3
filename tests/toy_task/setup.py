"""The toy task as an installable package: ``pip install -e tests/toy_task`` registers it.

The tests do not install it: they put this folder on ``sys.path``, where
``toy_task-0.1.dist-info/entry_points.txt`` is what an installation would write.
"""

from setuptools import setup

setup(name="toy-task", version="0.1", packages=["toy_task"],
      entry_points={"rl_tuner.tasks": ["toy_ascending = toy_task:AscendingTask"]})
