"""Training: settings and presets, optimiser and schedule, run folders, devices, DDP, the loop."""
