"""The `envctl` command line: one module per command, each thin (parse → core → render)."""
