// InparsTraining: optimizers, schedules and (later) the monoT5 fine-tuning loop. See Docs/training.md.
