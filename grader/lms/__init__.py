"""From the course's platform to `grade all` and back.

Imports lay out what a platform hands the instructor (Moodle's "Download all submissions" ZIP,
a `gh classroom clone student-repos` folder, Gradescope's submission export) as the class folder
`grade all` reads, `DIR/<student>/<exercise>.{py,ipynb}`, with `DIR/roster.csv` (who is who) and
`DIR/import-report.csv` (where every file went, and why not when it did not). Exports turn the
results back into what the platform accepts (Moodle's grading worksheet and feedback-files ZIP).

Every archive member and every file of a clone is untrusted: `archive` refuses the ones that would
escape the target or are too large, and nothing is written under a name taken from the archive
without sanitising it.
"""
