"""The grading engine: the parent-process side of `autograder grade`."""
