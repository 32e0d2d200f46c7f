"""The grading child (`python -I -m autograder.engine.child`) and the sandbox it applies to itself."""
