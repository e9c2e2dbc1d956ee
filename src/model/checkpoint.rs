//! Safetensors checkpoints (filled in below).
