"""The hidden graders as pytest tests: `pytest <this folder> --submission PATH` (one test per question).

They are a thin layer over `grader.grade_notebook`: the submission is graded once, out of process,
and each test reports its question's status and message.
"""
