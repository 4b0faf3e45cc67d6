"""sandpit's Python harness: runs submitted code inside the zygote's children.

runner.preload() is called once in the zygote, runner.run() once per
execution in a forked child, session.run_cell() once per cell of a session. The other modules are its parts: program
(compile), errors (user-only tracebacks), describe (bounded reprs),
debuginfo (the debug report), hints, tracer, policy (restricted mode).
"""
