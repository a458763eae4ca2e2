"""Tuning: one LoRA/full fine-tuning recipe, run as tracked, resumable jobs."""
