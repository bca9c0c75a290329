"""Reference for `inpars-bench t5-generate`: transformers `generate` throughput on CPU (random
weights, t5-small / t5-base shapes), greedy, exactly NEW tokens per document (min_new_tokens).

Usage: /root/.venv-fix/bin/python Scripts/bench/ref_t5_generate.py [SIZE DOCS PROMPT NEW BATCH THREADS]
       defaults: base 16 256 32 8 2
"""
import sys
import time

import torch
from transformers import T5Config, T5ForConditionalGeneration

args = sys.argv[1:] + [None] * 6
size = args[0] or "base"
docs, prompt, new, batch, threads = (int(a) if a else d for a, d in zip(args[1:6], (16, 256, 32, 8, 2)))
torch.set_num_threads(threads)
cfg = dict(small=dict(d_model=512, d_ff=2048, num_layers=6, num_heads=8),
           base=dict(d_model=768, d_ff=3072, num_layers=12, num_heads=12))[size]
torch.manual_seed(0)
model = T5ForConditionalGeneration(
    T5Config(vocab_size=32128, d_kv=64, feed_forward_proj="relu", decoder_start_token_id=0,
             pad_token_id=0, eos_token_id=1, **cfg)).eval()
ids = torch.randint(5, 32000, (docs + batch, prompt))
ids[:, -1] = 1  # EOS last, as the tokenizer emits
mask = torch.ones_like(ids)


def run(rows):
    tokens = 0
    for i in range(0, len(rows), batch):
        out = model.generate(input_ids=rows[i:i + batch], attention_mask=mask[: len(rows[i:i + batch])],
                             max_new_tokens=new, min_new_tokens=new, do_sample=False, num_beams=1,
                             output_logits=True, return_dict_in_generate=True)
        # The per-token log-probs inpars stores (log_softmax of the raw logits).
        seq = out.sequences[:, 1:]
        lp = torch.stack([torch.log_softmax(l, -1).gather(1, seq[:, s:s + 1]).squeeze(1)
                          for s, l in enumerate(out.logits)], 1)
        tokens += lp.numel()
    return tokens


with torch.inference_mode():
    run(ids[:batch])  # warm-up
    t = time.time()
    tokens = run(ids[batch:])
    dt = time.time() - t
print(f"torch {torch.__version__} threads={torch.get_num_threads()} transformers generate {size}: "
      f"documents={docs} prompt={prompt} new={new} batch={batch}: {docs / dt:.3f} documents/s "
      f"({dt:.2f} s, {tokens} tokens generated)")
