// InparsTraining: see Docs/architecture.md for what this module owns.
