"""Running a submission: work dir, sandboxed child process, and the probe inside it."""
