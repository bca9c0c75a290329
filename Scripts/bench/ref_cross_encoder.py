#!/usr/bin/env python3
"""PyTorch reference for `inpars-bench cross-encoder`: BertForSequenceClassification (1 label)
with random weights in the MiniLM-L6 (hidden 384, 6 layers, 12 heads, intermediate 1536, vocab
30,522) or BERT-base shape; scoring pairs/s (eval, no_grad) or training examples/s (one AdamW
step with BCE, dropout 0.1, clipping at 1.0), on a batch of random full-length pairs.

Usage: ref_cross_encoder.py SHAPE SEQLEN BATCH [BATCHES] [THREADS] [--train]
       /work/venv-ref/bin/python Scripts/bench/ref_cross_encoder.py minilm 256 32 3 2
"""
import resource
import sys
import time

import torch
from transformers import BertConfig, BertForSequenceClassification


def main():
    args = [a for a in sys.argv[1:] if a != "--train"]
    train = "--train" in sys.argv
    shape, seq_len, batch = args[0], int(args[1]), int(args[2])
    batches = int(args[3]) if len(args) > 3 else 3
    threads = int(args[4]) if len(args) > 4 else 2
    torch.set_num_threads(threads)
    base = shape == "base"
    config = BertConfig(vocab_size=30522, hidden_size=768 if base else 384,
                        num_hidden_layers=12 if base else 6, num_attention_heads=12,
                        intermediate_size=3072 if base else 1536, num_labels=1)
    torch.manual_seed(0)
    model = BertForSequenceClassification(config)
    ids = torch.randint(1000, 30000, (batch, seq_len))
    types = torch.zeros_like(ids)
    types[:, seq_len // 4:] = 1
    mask = torch.ones_like(ids)
    labels = (torch.arange(batch) % 2 == 0).float()
    optimizer = torch.optim.AdamW(model.parameters(), lr=2e-5)

    def once():
        if not train:
            with torch.no_grad():
                return float(model(input_ids=ids, token_type_ids=types, attention_mask=mask).logits[0, 0])
        optimizer.zero_grad()
        logits = model(input_ids=ids, token_type_ids=types, attention_mask=mask).logits[:, 0]
        loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, labels)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        return float(loss)

    model.train(train)
    once()
    start = time.perf_counter()
    for _ in range(batches):
        once()
    seconds = (time.perf_counter() - start) / batches
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    unit = "examples" if train else "pairs"
    print(f"pytorch cross-encoder {shape} {'train' if train else 'score'} threads={threads} "
          f"batch={batch} seqlen={seq_len}: {seconds:.3f} s/batch, {batch / seconds:.2f} {unit}/s, "
          f"peak RSS {rss:.0f} MB")


if __name__ == "__main__":
    main()
