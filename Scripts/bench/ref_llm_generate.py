"""Reference for `inpars-bench llm-generate`: transformers `generate` on CPU for the InPars
workload, random fp32 weights in a real model's shape (Qwen2.5-0.5B or Llama-3.2-1B): every
document's prompt is the same few-shot prefix followed by its own tokens; greedy, exactly NEW
tokens per document (min_new_tokens), the per-token log-probs inpars stores computed from the
raw logits. Prompts are left-padded into batches of BATCH (transformers' batched generation);
run several batch sizes and report the best. Peak RSS is printed (resource.getrusage).

Usage: /work/venv-ref/bin/python Scripts/bench/ref_llm_generate.py \
           [SHAPE DOCS PREFIX DOCUMENT NEW BATCH THREADS]
       defaults: qwen2.5-0.5b 64 600 256 32 8 2
"""
import resource
import sys
import time

import torch
from transformers import LlamaConfig, LlamaForCausalLM, Qwen2Config, Qwen2ForCausalLM

args = sys.argv[1:] + [None] * 7
shape = args[0] or "qwen2.5-0.5b"
docs, prefix, doc, new, batch, threads = (
    int(a) if a else d for a, d in zip(args[1:7], (64, 600, 256, 32, 8, 2)))
torch.set_num_threads(threads)
torch.manual_seed(0)
if shape == "qwen2.5-0.5b":
    model = Qwen2ForCausalLM(Qwen2Config(
        vocab_size=151936, hidden_size=896, intermediate_size=4864, num_hidden_layers=24,
        num_attention_heads=14, num_key_value_heads=2, max_position_embeddings=32768,
        rms_norm_eps=1e-6, rope_theta=1000000.0, tie_word_embeddings=True))
else:
    model = LlamaForCausalLM(LlamaConfig(
        vocab_size=128256, hidden_size=2048, intermediate_size=8192, num_hidden_layers=16,
        num_attention_heads=32, num_key_value_heads=8, max_position_embeddings=131072,
        rms_norm_eps=1e-5, rope_theta=500000.0, tie_word_embeddings=True,
        rope_scaling={"rope_type": "llama3", "factor": 32.0, "low_freq_factor": 1.0,
                      "high_freq_factor": 4.0, "original_max_position_embeddings": 8192}))
model = model.eval()
vocab = model.config.vocab_size - 1000
head = torch.randint(500, 500 + vocab, (1, prefix))
ids = torch.cat([head.expand(docs + batch, prefix),
                 torch.randint(500, 500 + vocab, (docs + batch, doc))], 1)
mask = torch.ones_like(ids)


def run(rows, masks):
    tokens = 0
    for i in range(0, len(rows), batch):
        out = model.generate(input_ids=rows[i:i + batch], attention_mask=masks[i:i + batch],
                             max_new_tokens=new, min_new_tokens=new, do_sample=False,
                             num_beams=1, output_logits=True, return_dict_in_generate=True,
                             pad_token_id=0)
        seq = out.sequences[:, rows.shape[1]:]
        lp = torch.stack([torch.log_softmax(l, -1).gather(1, seq[:, s:s + 1]).squeeze(1)
                          for s, l in enumerate(out.logits)], 1)
        tokens += lp.numel()
    return tokens


with torch.inference_mode():
    run(ids[:batch], mask[:batch])  # warm-up
    t = time.time()
    tokens = run(ids[batch:], mask[batch:])
    dt = time.time() - t
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(f"torch {torch.__version__} threads={torch.get_num_threads()} transformers generate {shape}: "
      f"documents={docs} prefix={prefix} document={doc} new={new} batch={batch}: "
      f"{docs / dt:.3f} documents/s ({dt:.2f} s, {tokens} tokens generated; peak RSS {peak:.0f} MB)")
