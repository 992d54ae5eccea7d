"""Stand-in for Google Colab's module, installed by the grader's probe.

Colab is not available where grading runs; these stubs let notebooks written in
Colab run unchanged. They never touch the network or the user's Drive.
"""
