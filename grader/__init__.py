"""keras-grader: grade dense-network Keras exercises.

Data flow of one job: data -> run (sandboxed child with the probe) -> evaluate
(trusted process) -> results (one JSON per job) -> report (pandas).
Nothing here imports TensorFlow or Keras at import time.
"""

__version__ = "0.2.0"
